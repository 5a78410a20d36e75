//! A RabbitMQ vhost of the test's own, made through the management API, with each agency's
//! user allowed in as deploy/ allows it.

use std::time::Duration;

use anyhow::{bail, Context};
use backon::{ExponentialBuilder, Retryable};
use serde_json::json;

/// The management API of the local broker (guest, loopback only).
pub const LOCAL_MANAGEMENT: &str = "http://127.0.0.1:15672/api";

/// The broker the tests use (`$COHANDLE_TEST_AMQP_HOST`, host:port).
pub fn broker_host() -> String {
    std::env::var("COHANDLE_TEST_AMQP_HOST").unwrap_or_else(|_| "127.0.0.1:5672".to_owned())
}

/// The management API at `base`, as guest (an administrator on loopback).
#[derive(Debug, Clone)]
pub struct Management {
    base: String,
    http: reqwest::Client,
}

impl Management {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// One call. A server error is tried again a few times (the management plugin answers
    /// 500 when, say, a connection it was asked to close closed meanwhile); 404 counts as
    /// done.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let once = || async {
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .basic_auth("guest", Some("guest"));
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request
                .send()
                .await
                .with_context(|| format!("RabbitMQ management API at {}", self.base))?;
            let status = response.status();
            if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
                return Ok(response);
            }
            let text = response.text().await.unwrap_or_default();
            Err(anyhow::Error::new(Refused { status }).context(format!("{method} {path}: {text}")))
        };
        once.retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(100))
                .with_max_times(9),
        )
        .when(|error| {
            error
                .downcast_ref::<Refused>()
                .is_some_and(|r| r.status.is_server_error())
        })
        .await
    }
}

#[derive(Debug)]
struct Refused {
    status: reqwest::StatusCode,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the management API answered {}", self.status)
    }
}

impl std::error::Error for Refused {}

/// A vhost of its own, deleted by [`Vhost::delete`] or, failing that, when dropped.
#[derive(Debug)]
pub struct Vhost {
    pub name: String,
    pub management: Management,
    amqp: String,
    deleted: bool,
}

impl Vhost {
    /// A vhost named `<prefix>-<uuid>` on the broker at `amqp` (host:port), guest allowed
    /// everything, and a user for each of `agencies`.
    pub async fn create(
        management: Management,
        amqp: &str,
        prefix: &str,
        agencies: &[&str],
    ) -> anyhow::Result<Self> {
        let vhost = Self {
            name: format!("{prefix}-{}", uuid::Uuid::new_v4().simple()),
            management,
            amqp: amqp.to_owned(),
            deleted: false,
        };
        let m = &vhost.management;
        m.call(
            reqwest::Method::PUT,
            &format!("/vhosts/{}", vhost.name),
            None,
        )
        .await?;
        m.call(
            reqwest::Method::PUT,
            &format!("/permissions/{}/guest", vhost.name),
            Some(json!({"configure": ".*", "write": ".*", "read": ".*"})),
        )
        .await?;
        for code in agencies {
            vhost.agency_user(code).await?;
        }
        Ok(vhost)
    }

    /// A vhost on the tests' broker, with a user for each of `agencies`.
    pub async fn for_test(agencies: &[&str]) -> Self {
        Self::create(
            Management::new(LOCAL_MANAGEMENT),
            &broker_host(),
            "cohandle-test",
            agencies,
        )
        .await
        .unwrap()
    }

    /// An agency's RabbitMQ user, with the rights deploy/ gives it: publish to
    /// `cohandle.in` under its own keys only, read its own queue only, configure nothing.
    /// Users are broker-wide, named by agency code with the code as password, so they are
    /// shared by parallel tests and kept.
    pub async fn agency_user(&self, code: &str) -> anyhow::Result<()> {
        let m = &self.management;
        m.call(
            reqwest::Method::PUT,
            &format!("/users/{code}"),
            Some(json!({"password": code, "tags": ""})),
        )
        .await?;
        let escaped = code.replace('.', "\\.");
        m.call(
            reqwest::Method::PUT,
            &format!("/permissions/{}/{code}", self.name),
            Some(json!({
                "configure": "^$",
                "write": "^cohandle\\.in$",
                "read": format!("^cohandle\\.agency\\.{escaped}$"),
            })),
        )
        .await?;
        m.call(
            reqwest::Method::PUT,
            &format!("/topic-permissions/{}/{code}", self.name),
            Some(
                json!({"exchange": "cohandle.in", "write": format!("^{escaped}\\."), "read": ".*"}),
            ),
        )
        .await?;
        Ok(())
    }

    /// guest's URL into this vhost.
    pub fn url(&self) -> String {
        format!("amqp://guest:guest@{}/{}", self.amqp, self.name)
    }

    pub async fn delete(mut self) -> anyhow::Result<()> {
        self.deleted = true;
        let response = self
            .management
            .call(
                reqwest::Method::DELETE,
                &format!("/vhosts/{}", self.name),
                None,
            )
            .await?;
        if !response.status().is_success() && response.status() != reqwest::StatusCode::NOT_FOUND {
            bail!("deleting vhost {}: {}", self.name, response.status());
        }
        Ok(())
    }
}

impl Drop for Vhost {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let management = self.management.clone();
        let path = format!("/vhosts/{}", self.name);
        crate::finish_in_drop(async move {
            let _ = management.call(reqwest::Method::DELETE, &path, None).await;
        });
    }
}
