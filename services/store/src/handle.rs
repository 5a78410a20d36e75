//! What the store's reads, and its writes beside the engine (tokens, the access audit), run
//! on: the engine a door holds, or a connection of one's own (`connect::connect`, as the
//! command line opens one). A caller passes either and never reaches the connection inside,
//! so every table is read and written here, in the store.

use sea_orm::DatabaseConnection;

use crate::Engine;

/// An engine or a connection; see the module.
pub trait Handle: sealed::Connection + Sync {}

impl Handle for Engine {}

impl Handle for DatabaseConnection {}

/// The connection behind a handle, for this crate only.
pub(crate) fn connection(store: &impl Handle) -> &DatabaseConnection {
    store.connection(sealed::Key(()))
}

/// The trait is public, so that it may bound [`Handle`], but lives in a module no other
/// crate can name, and its method wants a key only this crate can make.
mod sealed {
    use sea_orm::DatabaseConnection;

    #[derive(Debug)]
    pub struct Key(pub(super) ());

    pub trait Connection {
        fn connection(&self, key: Key) -> &DatabaseConnection;
    }

    impl Connection for crate::Engine {
        fn connection(&self, _: Key) -> &DatabaseConnection {
            self.db()
        }
    }

    impl Connection for DatabaseConnection {
        fn connection(&self, _: Key) -> &DatabaseConnection {
            self
        }
    }
}

/// Whether the database answers.
pub async fn ping(store: &impl Handle) -> Result<(), crate::Error> {
    Ok(connection(store).ping().await?)
}
