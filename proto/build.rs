//! Compiles every `cohandle/v1/*.proto` with protox (pure Rust: no system `protoc`), then
//! generates the prost types and their proto3 JSON serde impls (pbjson) into `OUT_DIR`.

use std::error::Error;
use std::path::PathBuf;

use prost::Message;

const PACKAGE_DIR: &str = "cohandle/v1";

fn main() -> Result<(), Box<dyn Error>> {
    // A directory here makes cargo rerun on any change inside it, new files included.
    println!("cargo:rerun-if-changed={PACKAGE_DIR}");
    let mut protos = Vec::new();
    for entry in std::fs::read_dir(PACKAGE_DIR)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "proto") {
            protos.push(path);
        }
    }
    protos.sort();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let descriptors = protox::compile(&protos, ["."])?;
    let encoded = descriptors.encode_to_vec();
    std::fs::write(out_dir.join("cohandle_v1_descriptor.bin"), &encoded)?;

    // Well-known types come from pbjson-types, whose Timestamp has the RFC 3339 JSON form.
    prost_build::Config::new()
        .compile_well_known_types()
        .extern_path(".google.protobuf", "::pbjson_types")
        .compile_fds(descriptors)?;

    // pbjson refuses unknown JSON fields unless told `ignore_unknown_fields()`: keep it so.
    pbjson_build::Builder::new()
        .register_descriptors(&encoded)?
        .build(&[".cohandle"])?;
    Ok(())
}
