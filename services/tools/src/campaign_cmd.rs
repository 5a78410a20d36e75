//! `cohandle-tools campaign [--short|--long]`: the fault campaign (`cohandle_campaign`)
//! against the `cohandle` binary, started as the roles on a PostgreSQL cluster and a RabbitMQ node of the
//! campaign's own. Prints the report table; exits non-zero when anything was lost, doubled
//! or let in.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use cohandle_campaign::{Options, Profile};

#[derive(Debug, Args)]
pub struct CampaignArgs {
    /// The CI run: about two to three minutes, 20 worker kills (the default).
    #[arg(long, conflicts_with = "long")]
    pub short: bool,
    /// The long run: about fifteen minutes, 200 worker kills.
    #[arg(long, conflicts_with = "scale")]
    pub long: bool,
    /// Scale-out and failover: three RabbitMQ nodes, a PostgreSQL primary and its replica,
    /// three workers; a broker node killed, a worker killed for good, a node cut off, the
    /// primary killed and the replica promoted (about eight minutes; root for the network
    /// namespaces of the partition).
    #[arg(long, conflicts_with = "short")]
    pub scale: bool,
    /// The seed of the workload, hostile input and fault moments (same seed, same run).
    #[arg(long, default_value_t = 20261127)]
    pub seed: u64,
    /// The `cohandle` binary the roles run as (default: $COHANDLE_BIN, else the `cohandle`
    /// beside this binary).
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Seconds of load instead of the profile's (for a quick trial).
    #[arg(long)]
    pub load_seconds: Option<u64>,
}

pub async fn run(args: CampaignArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            // lapin logs every connection the broker restarts cut as an error, and the
            // campaign's publishers warn of each dead node they skip: expected here.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,lapin=off,cohandle_bus::connect=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let binary = crate::cohandle_binary(args.binary)?;
    let profile = if args.scale {
        Profile::Scale
    } else if args.long {
        Profile::Long
    } else {
        Profile::Short
    };
    let report = cohandle_campaign::run(Options {
        profile,
        binary,
        seed: args.seed,
        load: args.load_seconds.map(std::time::Duration::from_secs),
    })
    .await?;
    println!("{}", report.table());
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
