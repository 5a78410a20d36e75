//! `database.url` naming several PostgreSQL servers: the writable one is found, and a role
//! whose server stops taking writes moves to the one that does, losing nothing and applying
//! nothing twice. One PostgreSQL server plays the cluster: each "server" is the test's
//! database reached as a role of its own, made read-only (as a standby is) by
//! `ALTER ROLE … SET default_transaction_read_only`.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, Retryable};
use cohandle_store::{connect, Engine, Outcome, Source};
use cohandle_testkit::db::postgres_server;
use cohandle_workflows::{Calendar, Catalog};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

use crate::support::*;

/// A login role on the test server, dropped (with its sessions) by [`Role::drop_now`].
struct Role {
    name: String,
    admin: DatabaseConnection,
}

impl Role {
    async fn create(name: String) -> Self {
        let admin = Database::connect(format!("{}/postgres", postgres_server()))
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!("CREATE ROLE {name} LOGIN SUPERUSER"))
            .await
            .unwrap();
        Self { name, admin }
    }

    /// The URL of `database` as this role, on the test server.
    fn url(&self, database: &str) -> String {
        let server = postgres_server();
        let (scheme, rest) = server.split_once("://").unwrap();
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{}@{host}/{database}", self.name)
    }

    /// What a failover does to the old primary: its sessions end, and it takes no writes.
    async fn demote(&self) {
        for sql in [
            format!(
                "ALTER ROLE {} SET default_transaction_read_only = on",
                self.name
            ),
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{}'",
                self.name
            ),
        ] {
            self.admin.execute_unprepared(&sql).await.unwrap();
        }
    }

    async fn drop_now(self) {
        self.admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{}'",
                self.name
            ))
            .await
            .unwrap();
        self.admin
            .execute_unprepared(&format!("DROP ROLE {}", self.name))
            .await
            .unwrap();
    }
}

fn database_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

async fn current_user(db: &DatabaseConnection) -> String {
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT current_user::text AS name",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "name").unwrap()
}

#[tokio::test]
async fn the_writable_server_is_used_whatever_comes_before_it_in_the_list() {
    let db = TestDb::new(Backend::Postgres).await;
    connect::connect_and_migrate(&db.url).await.unwrap();
    // A server that does not answer (nothing listens on port 1), a standby (read-only),
    // then the primary.
    let dead = format!("postgres://postgres@127.0.0.1:1/{}", database_name(&db.url));
    let standby = format!("{}?options=-c%20default_transaction_read_only%3Don", db.url);
    let urls = format!("{dead},{standby},{}", db.url);
    let conn = connect::connect(&urls).await.unwrap();
    conn.execute_unprepared("CREATE TABLE written (n int); INSERT INTO written VALUES (1)")
        .await
        .unwrap();

    // With no writable server at all, the error says why, server by server, and is one the
    // roles wait out.
    let error = connect::connect(&format!("{dead},{standby}"))
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("server 1 (127.0.0.1:1)")
            && text.contains("server 2")
            && text.contains("does not take writes"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_that_stops_taking_writes_is_left_for_the_one_that_does_and_nothing_is_lost_or_doubled(
) {
    let db = TestDb::new(Backend::Postgres).await;
    connect::connect_and_migrate(&db.url).await.unwrap();
    let name = database_name(&db.url).to_owned();
    let old = Role::create(format!("{name}_old")).await;
    let urls = format!("{},{}", old.url(&name), db.url);
    let clock = clock("2020-02-26");
    let engine = Engine::new(
        connect::connect(&urls).await.unwrap(),
        Arc::new(Catalog::shipped()),
        Arc::new(Calendar::china_official()),
        clock.clone(),
    );
    assert_eq!(current_user(engine.db()).await, old.name);

    let events = cohandle_workflows::cases::case_0942();
    let (before, after) = events.split_at(4);
    for e in before {
        clock.set(e.occurred_at);
        assert!(engine
            .apply(e.clone(), Source::Bus)
            .await
            .unwrap()
            .is_applied());
    }

    old.demote().await;
    // Each event is tried again, as the roles do, by the one retry policy while the error is
    // transient: the lost connection, then the read-only server, until the pool has moved.
    let patience = || {
        cohandle_store::retry::policy()
            .with_total_delay(Some(Duration::from_secs(30)))
            .build()
    };
    let mut retried = 0;
    for e in after {
        clock.set(e.occurred_at);
        let outcome = (|| engine.apply(e.clone(), Source::Bus))
            .retry(patience())
            .when(cohandle_store::Error::is_transient)
            .notify(|_, _| retried += 1)
            .await
            .unwrap();
        assert!(outcome.is_applied(), "{}: {outcome:?}", e.id);
    }
    assert!(retried > 0, "the demoted server was noticed by an error");
    assert_ne!(current_user(engine.db()).await, old.name);

    // Everything committed on the old primary is there, once; sent again (a commit whose
    // acknowledgement was lost), an event is a duplicate.
    let (proposal, version) = engine.load("cq-5-3-0942").await.unwrap().unwrap();
    assert_eq!(proposal.state, "closed");
    assert_eq!(version, events.len() as i64);
    for e in [&before[0], &after[0]] {
        let again = engine.apply(e.clone(), Source::Bus).await.unwrap();
        assert!(matches!(again, Outcome::Duplicate(_)), "{again:?}");
    }
    assert_eq!(
        cohandle_store::history::verify(engine.db(), None)
            .await
            .unwrap()
            .broken,
        None
    );
    old.drop_now().await;
}
