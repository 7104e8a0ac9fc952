//! Which code runs for each function of template.yaml.
//!
//! This is the one place that knows every function crate, as the Lambda service
//! knows every deployed function: the template names a function by logical id, and
//! this registry hands its event to that crate's handler.

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use axum::Router;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tern_aws::{AwsClients, Config, Platform};
use tern_domain::clock::SharedClock;

pub struct Functions {
    api: Router,
    /// The api function's state, for the dev host's local-only routes that act as a
    /// platform operator would (and refresh this container's settings cache after).
    api_state: Arc<tern_api::ApiState>,
    /// Every account mail the api function sent (through SES, to the stand-in), in order.
    platform_mail: Arc<Mutex<Vec<tern_api::platform_mail::PlatformMail>>>,
    inbound: Router,
    classify: tern_classify::ClassifyDeps,
    enrich: tern_enrich::EnrichDeps,
    send: tern_send::SendDeps,
    feedback: Platform,
    dispatch: Platform,
    housekeeping: Platform,
    invocations: Mutex<BTreeMap<String, u64>>,
}

pub const KNOWN: [&str; 8] = [
    "ApiFunction",
    "InboundFunction",
    "ClassifyFunction",
    "EnrichFunction",
    "SendFunction",
    "FeedbackFunction",
    "DispatchFunction",
    "HousekeepingFunction",
];

impl Functions {
    pub fn new(
        config: &Config,
        clients: &AwsClients,
        clock: SharedClock,
        fetcher: tern_web::fetch::Fetcher,
        mail: &crate::MailDelivery,
        llm: &crate::LlmAccess,
    ) -> Result<Self, tern_aws::ConfigError> {
        // One platform per function, as each Lambda function builds its own at cold
        // start; they share the clients (one account, one cost meter).
        let platform = || Platform::new(config.clone(), clients.clone(), clock.clone());
        let mut api = tern_api::ApiState::new(platform())?;
        api.mail_policy = mail.policy.clone();
        api.llm_policy = llm.policy.clone();
        let platform_mail: Arc<Mutex<Vec<tern_api::platform_mail::PlatformMail>>> = Default::default();
        let outbox = platform_mail.clone();
        api.mail_tap = Some(Arc::new(move |mail| outbox.lock().unwrap_or_else(|p| p.into_inner()).push(mail.clone())));
        let mut classify = tern_classify::ClassifyDeps::new(platform());
        classify.llm = tern_classify::intent::LlmAccess::new(llm.policy.clone(), llm.limits.clone());
        let resolver = mail.resolver.clone().unwrap_or_else(|| Arc::new(tern_web::fetch::SystemResolver));
        let smtp = mail
            .extra_roots
            .iter()
            .fold(tern_send::smtp::SmtpClient::new(mail.policy.clone(), resolver), |client, der| client.with_extra_root(der.clone()));
        let api = Arc::new(api);
        Ok(Self {
            api: tern_api::router(api.clone()),
            api_state: api,
            platform_mail,
            inbound: tern_inbound::router(Arc::new(tern_inbound::InboundState::new(platform()))),
            classify,
            enrich: tern_enrich::EnrichDeps::new(platform(), fetcher),
            send: tern_send::SendDeps::new(platform(), smtp),
            feedback: platform(),
            dispatch: platform(),
            housekeeping: platform(),
            invocations: Mutex::new(BTreeMap::new()),
        })
    }

    /// The enrich worker's dependencies (tests give it their own DNS server for
    /// e-mail verification with [`tern_enrich::EnrichDeps::use_verifier`]).
    pub fn enrich(&self) -> &tern_enrich::EnrichDeps {
        &self.enrich
    }

    /// The account mails the platform sent to `to` (verification, reset), oldest first.
    pub fn platform_mail_to(&self, to: &str) -> Vec<tern_api::platform_mail::PlatformMail> {
        self.platform_mail.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|m| m.to.eq_ignore_ascii_case(to)).cloned().collect()
    }

    /// The api function's state (its table, audit log and settings cache).
    pub fn api_state(&self) -> &Arc<tern_api::ApiState> {
        &self.api_state
    }

    pub fn knows(&self, function: &str) -> bool {
        KNOWN.contains(&function)
    }

    pub fn http_router(&self, function: &str) -> Option<Router> {
        match function {
            "ApiFunction" => Some(self.api.clone()),
            "InboundFunction" => Some(self.inbound.clone()),
            _ => None,
        }
    }

    fn count(&self, function: &str) {
        let mut counts = self.invocations.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry(function.to_string()).or_default() += 1;
    }

    /// Lambda invocations per function so far (HTTP requests are not counted here).
    pub fn invocations(&self) -> BTreeMap<String, u64> {
        self.invocations.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Runs an SQS-triggered function; `None` when `function` takes no SQS events.
    pub async fn invoke_sqs(&self, function: &str, event: SqsEvent) -> Option<SqsBatchResponse> {
        self.count(function);
        Some(match function {
            "ClassifyFunction" => tern_classify::handle(&self.classify, event).await,
            "EnrichFunction" => tern_enrich::handle(&self.enrich, event).await,
            "SendFunction" => tern_send::handle(&self.send, event).await,
            "FeedbackFunction" => tern_feedback::handle(&self.feedback, event).await,
            "HousekeepingFunction" => tern_housekeeping::handle_jobs(&self.housekeeping, event).await,
            _ => return None,
        })
    }

    /// What a poller calls to run `function` on a batch.
    pub fn sqs_invoker(self: &Arc<Self>, function: &str) -> crate::poller::Invoke {
        let (functions, function) = (self.clone(), function.to_string());
        Arc::new(move |event| {
            let (functions, function) = (functions.clone(), function.clone());
            Box::pin(async move { functions.invoke_sqs(&function, event).await })
        })
    }

    /// Runs a scheduled function; its JSON result, or its error as text.
    pub async fn invoke_schedule(&self, function: &str, event: CloudWatchEvent) -> Option<Result<serde_json::Value, String>> {
        self.count(function);
        let result = match function {
            "DispatchFunction" => tern_dispatch::handle(&self.dispatch, event)
                .await
                .map(|r| serde_json::to_value(r).unwrap_or_default())
                .map_err(|e| e.to_string()),
            "HousekeepingFunction" => tern_housekeeping::handle(&self.housekeeping, event)
                .await
                .map(|r| serde_json::to_value(r).unwrap_or_default())
                .map_err(|e| e.to_string()),
            _ => return None,
        };
        Some(result)
    }
}
