//! The dev host: Tern's functions, wired together as AWS would wire them, on one machine.
//!
//! It reads template.yaml, provisions its tables, queues, bucket and key on the local
//! AWS stand-in (moto), and then plays the parts of AWS that moto does not:
//! - API Gateway: one HTTP port routing each template route to its function's router;
//! - SQS event-source mappings: a poller per SQS-triggered function that hands real
//!   `SqsEvent`s to the handler and deletes only the records that did not fail;
//! - EventBridge schedules: ticks, plus a route to tick now;
//! - a clock that can be moved forward, so days of cadence pass in seconds.
//!
//! Tests start it in-process with [`DevHost::start`]; `scripts/dev` runs the binary.

mod admin;
pub mod functions;
pub mod poller;
mod schedule;

use std::net::SocketAddr;
use std::sync::Arc;
use tern_aws::provision::{Provisioned, provision};
use tern_aws::template::{Template, Trigger};
use tern_aws::{AwsClients, Config};
use tern_domain::clock::{AdjustableClock, SharedClock};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use functions::Functions;

#[derive(Debug, Clone)]
pub struct DevHostOptions {
    /// The local AWS stand-in, e.g. `http://127.0.0.1:5000`.
    pub aws_endpoint: String,
    /// Prefix for every resource name, so several hosts can share one stand-in.
    pub prefix: String,
    pub bind: SocketAddr,
    /// Overrides every schedule's period (seconds); `None` keeps the template's rates.
    pub tick_every_seconds: Option<u64>,
    /// Long-poll wait of the SQS pollers (seconds, 0..=20).
    pub poll_wait_seconds: i32,
    /// The inbound webhooks' basic-auth password.
    pub webhook_secret: String,
    /// How the enrich worker reaches websites. Production rules by default; tests
    /// add an explicit loopback allowance and their own name resolution.
    pub website_fetch: WebsiteFetch,
    /// How mailboxes' SMTP servers are reached. Production rules by default; tests
    /// allow their own loopback mail sink and trust its certificate, explicitly.
    pub mail_delivery: MailDelivery,
    /// How workspaces' language-model providers are reached. Production rules by
    /// default; tests allow their own loopback fake provider, explicitly.
    pub llm: LlmAccess,
    /// Functions (logical ids) whose queues and schedules the host leaves alone, so a
    /// test can invoke them by hand (with injected faults, say).
    pub manual_functions: Vec<String>,
    /// The stand-in's region (us-east-1 when `None`).
    pub region: Option<String>,
}

#[derive(Clone)]
pub struct MailDelivery {
    pub policy: tern_web::guard::Policy,
    /// Extra trusted root certificates (DER): a local sink's self-signed one.
    pub extra_roots: Vec<Vec<u8>>,
    pub resolver: Option<Arc<dyn tern_web::fetch::HostResolver>>,
}

impl Default for MailDelivery {
    fn default() -> Self {
        Self { policy: tern_web::guard::Policy::mail(), extra_roots: Vec::new(), resolver: None }
    }
}

impl std::fmt::Debug for MailDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailDelivery").field("policy", &self.policy).field("extra_roots", &self.extra_roots.len()).finish()
    }
}

#[derive(Debug, Clone)]
pub struct LlmAccess {
    pub policy: tern_web::guard::Policy,
    pub limits: tern_web::llm::LlmLimits,
}

impl Default for LlmAccess {
    fn default() -> Self {
        Self { policy: tern_web::guard::Policy::provider_api(), limits: Default::default() }
    }
}

#[derive(Clone)]
pub struct WebsiteFetch {
    pub policy: tern_web::guard::Policy,
    pub limits: tern_web::fetch::Limits,
    pub resolver: Option<Arc<dyn tern_web::fetch::HostResolver>>,
}

impl Default for WebsiteFetch {
    fn default() -> Self {
        Self { policy: tern_web::guard::Policy::website(), limits: tern_web::fetch::Limits::default(), resolver: None }
    }
}

impl std::fmt::Debug for WebsiteFetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebsiteFetch").field("limits", &self.limits).field("custom_resolver", &self.resolver.is_some()).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DevHostError {
    #[error(transparent)]
    Template(#[from] tern_aws::template::TemplateError),
    #[error(transparent)]
    Provision(#[from] tern_aws::provision::ProvisionError),
    #[error("template.yaml names function {0}, which the dev host does not know")]
    UnknownFunction(String),
    #[error(transparent)]
    Config(#[from] tern_aws::ConfigError),
    #[error("the website fetcher could not be built: {0}")]
    Fetcher(String),
    #[error("no randomness for the session key: {0}")]
    Random(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

pub struct DevHost {
    pub addr: SocketAddr,
    pub config: Config,
    /// The functions' clients (one account, one cost meter: `clients.meter()`).
    pub clients: AwsClients,
    /// Where the stand-in is, for a test's own look-ups (its own clients, not the
    /// functions': they are the adapter crate's alone).
    pub sdk_config: tern_aws::clients::SdkConfig,
    pub clock: Arc<AdjustableClock>,
    pub provisioned: Provisioned,
    pub functions: Arc<Functions>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl DevHost {
    pub async fn start(options: DevHostOptions) -> Result<Self, DevHostError> {
        let template = Template::repository()?;
        let sdk = tern_aws::clients::local_sdk_config_in(&options.aws_endpoint, options.region.as_deref().unwrap_or("us-east-1"));
        // The functions share one set of clients, hence one cost meter, as one
        // account's bill would; provisioning is counted too.
        let clients = AwsClients::from_sdk_config(&sdk, true);
        let (mut config, provisioned) = provision(&template, &clients, &options.prefix).await?;
        config.inbound_webhook_secret = Some(options.webhook_secret.clone());
        // A fresh signing key per run: sessions do not outlive the local platform.
        config.session_key =
            Some(tern_security::token::OpaqueToken::generate().map_err(|e| DevHostError::Random(e.to_string()))?.expose().to_string());
        let clock = Arc::new(AdjustableClock::new());
        let shared_clock: SharedClock = clock.clone();
        let fetcher = match &options.website_fetch.resolver {
            Some(resolver) => tern_web::fetch::Fetcher::with_resolver(
                options.website_fetch.policy.clone(),
                options.website_fetch.limits.clone(),
                resolver.clone(),
            ),
            None => tern_web::fetch::Fetcher::new(options.website_fetch.policy.clone(), options.website_fetch.limits.clone()),
        }
        .map_err(|e| DevHostError::Fetcher(e.to_string()))?;
        // Bound before the functions are built: unsubscribe links point at this address.
        // They say https, as RFC 8058 requires of every message; the dev host itself
        // serves plain http, so locally the link is followed with http.
        let listener =
            tokio::net::TcpListener::bind(options.bind).await.map_err(|source| DevHostError::Bind { addr: options.bind, source })?;
        let addr = listener.local_addr().map_err(|source| DevHostError::Bind { addr: options.bind, source })?;
        config.public_url = Some(format!("https://{addr}"));
        let functions = Arc::new(Functions::new(&config, &clients, shared_clock.clone(), fetcher, &options.mail_delivery, &options.llm)?);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();

        // The event-source mappings are AWS's, not the functions': their own SQS
        // client, counted on the same meter (polling is billed to the account).
        let event_source_sqs =
            aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&sdk).interceptor(clients.meter().clone()).build());
        let specs = template.functions()?;
        let mut http_routes = Vec::new();
        for spec in &specs {
            if !functions.knows(&spec.logical_id) {
                return Err(DevHostError::UnknownFunction(spec.logical_id.clone()));
            }
            let manual = options.manual_functions.contains(&spec.logical_id);
            for trigger in &spec.triggers {
                match trigger {
                    Trigger::Sqs { .. } | Trigger::Schedule { .. } if manual => {}
                    Trigger::HttpApi { method, path } => http_routes.push((spec.logical_id.clone(), method.clone(), path.clone())),
                    Trigger::Sqs { queue_logical_id, batch_size, report_batch_item_failures } => {
                        let queue_url = provisioned.queue_urls.get(queue_logical_id).cloned().unwrap_or_default();
                        let queue_arn = provisioned.queue_arns.get(queue_logical_id).cloned().unwrap_or_default();
                        tasks.spawn(poller::run(poller::Poller {
                            function: spec.logical_id.clone(),
                            invoke: functions.sqs_invoker(&spec.logical_id),
                            sqs: event_source_sqs.clone(),
                            queue_url,
                            queue_arn,
                            batch_size: *batch_size,
                            report_batch_item_failures: *report_batch_item_failures,
                            wait_seconds: options.poll_wait_seconds,
                            shutdown: shutdown_rx.clone(),
                        }));
                    }
                    Trigger::Schedule { expression } => {
                        let period =
                            options.tick_every_seconds.map(std::time::Duration::from_secs).unwrap_or_else(|| schedule::period(expression));
                        tasks.spawn(schedule::run(
                            spec.logical_id.clone(),
                            functions.clone(),
                            shared_clock.clone(),
                            period,
                            shutdown_rx.clone(),
                        ));
                    }
                }
            }
        }

        let app = admin::router(functions.clone(), clock.clone(), clients.meter().clone(), &http_routes);
        let mut http_shutdown = shutdown_rx.clone();
        tasks.spawn(async move {
            // Connection addresses stand in for API Gateway's source IP.
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = http_shutdown.wait_for(|stop| *stop).await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "dev host HTTP server stopped");
            }
        });
        Ok(Self { addr, config, clients, sdk_config: sdk, clock, provisioned, functions, shutdown, tasks })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the HTTP server, pollers and ticks, and waits for them.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}
