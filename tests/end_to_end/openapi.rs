//! The OpenAPI document lists every route the API serves, with its methods.

use tern_tests::start_dev_host;

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let host = start_dev_host("openapi").await;
    let document: serde_json::Value = reqwest::get(format!("{}/openapi.json", host.base_url())).await.unwrap().json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let served = [
        ("get", "/health"),
        ("post", "/v1/signup"),
        ("post", "/v1/signup/verify"),
        ("post", "/v1/me/email/verify"),
        ("post", "/v1/me/email/verification"),
        ("post", "/v1/password-reset"),
        ("post", "/v1/password-reset/confirm"),
        ("post", "/v1/sessions"),
        ("get", "/v1/sessions"),
        ("post", "/v1/sessions/refresh"),
        ("delete", "/v1/sessions/{session_id}"),
        ("post", "/v1/me/password"),
        ("post", "/v1/me/2fa/setup"),
        ("post", "/v1/me/2fa/confirm"),
        ("delete", "/v1/me/2fa"),
        ("post", "/v1/invites/accept"),
        ("get", "/v1/workspaces/{ws}"),
        ("patch", "/v1/workspaces/{ws}"),
        ("get", "/v1/workspaces/{ws}/members"),
        ("patch", "/v1/workspaces/{ws}/members/{user_id}"),
        ("delete", "/v1/workspaces/{ws}/members/{user_id}"),
        ("post", "/v1/workspaces/{ws}/invites"),
        ("post", "/v1/workspaces/{ws}/sub-workspaces"),
        ("post", "/v1/workspaces/{ws}/deletion"),
        ("delete", "/v1/workspaces/{ws}/deletion"),
        ("post", "/v1/workspaces/{ws}/api-keys"),
        ("get", "/v1/workspaces/{ws}/api-keys"),
        ("delete", "/v1/workspaces/{ws}/api-keys/{key_id}"),
        ("post", "/v1/workspaces/{ws}/inbound/credential"),
        ("get", "/v1/workspaces/{ws}/inbound/credential"),
        ("delete", "/v1/workspaces/{ws}/inbound/credential"),
        ("get", "/v1/workspaces/{ws}/inbound/messages"),
        ("get", "/v1/workspaces/{ws}/inbound/messages/{id}"),
        ("post", "/v1/workspaces/{ws}/contacts/{contact_id}/first-line"),
        ("put", "/v1/workspaces/{ws}/contacts/{contact_id}/first-line"),
        ("delete", "/v1/workspaces/{ws}/contacts/{contact_id}/first-line"),
        ("post", "/v1/workspaces/{ws}/privacy/erasures"),
        ("get", "/v1/workspaces/{ws}/privacy/tasks/{task_id}"),
        ("post", "/v1/workspaces/{ws}/privacy/exports"),
        ("get", "/v1/workspaces/{ws}/privacy/exports/{task_id}/download"),
        ("post", "/v1/workspaces/{ws}/privacy/access-requests"),
        ("post", "/v1/workspaces/{ws}/enrichments"),
        ("get", "/v1/workspaces/{ws}/enrichments"),
        ("get", "/v1/workspaces/{ws}/enrichments/{domain}"),
        ("get", "/v1/workspaces/{ws}/enrichment-usage"),
        ("get", "/v1/workspaces/{ws}/ideal-customer"),
        ("put", "/v1/workspaces/{ws}/ideal-customer"),
        ("get", "/v1/workspaces/{ws}/llm"),
        ("put", "/v1/workspaces/{ws}/llm"),
        ("delete", "/v1/workspaces/{ws}/llm"),
        ("post", "/v1/workspaces/{ws}/contacts"),
        ("get", "/v1/workspaces/{ws}/contacts"),
        ("post", "/v1/workspaces/{ws}/contacts/import"),
        ("get", "/v1/workspaces/{ws}/contacts/export"),
        ("get", "/v1/workspaces/{ws}/contacts/{contact_id}"),
        ("patch", "/v1/workspaces/{ws}/contacts/{contact_id}"),
        ("delete", "/v1/workspaces/{ws}/contacts/{contact_id}"),
        ("post", "/v1/workspaces/{ws}/contacts/{contact_id}/verify"),
        ("post", "/v1/workspaces/{ws}/contacts/{contact_id}/notes"),
        ("get", "/v1/workspaces/{ws}/contacts/{contact_id}/notes"),
        ("delete", "/v1/workspaces/{ws}/contacts/{contact_id}/notes/{note_id}"),
        ("post", "/v1/workspaces/{ws}/suppressions"),
        ("get", "/v1/workspaces/{ws}/suppressions"),
        ("post", "/v1/workspaces/{ws}/attachments"),
        ("post", "/v1/workspaces/{ws}/templates"),
        ("get", "/v1/workspaces/{ws}/templates"),
        ("get", "/v1/workspaces/{ws}/templates/{template_id}"),
        ("put", "/v1/workspaces/{ws}/templates/{template_id}"),
        ("delete", "/v1/workspaces/{ws}/templates/{template_id}"),
        ("post", "/v1/workspaces/{ws}/templates/{template_id}/preview"),
        ("post", "/v1/workspaces/{ws}/sending-domains"),
        ("get", "/v1/workspaces/{ws}/sending-domains"),
        ("post", "/v1/workspaces/{ws}/sending-domains/{domain}/verify"),
        ("delete", "/v1/workspaces/{ws}/sending-domains/{domain}"),
        ("post", "/v1/workspaces/{ws}/mailboxes"),
        ("get", "/v1/workspaces/{ws}/mailboxes"),
        ("get", "/v1/workspaces/{ws}/mailboxes/{mailbox_id}"),
        ("patch", "/v1/workspaces/{ws}/mailboxes/{mailbox_id}"),
        ("delete", "/v1/workspaces/{ws}/mailboxes/{mailbox_id}"),
        ("post", "/v1/workspaces/{ws}/sequences"),
        ("get", "/v1/workspaces/{ws}/sequences"),
        ("get", "/v1/workspaces/{ws}/sequences/{sequence_id}"),
        ("put", "/v1/workspaces/{ws}/sequences/{sequence_id}"),
        ("post", "/v1/workspaces/{ws}/sequences/{sequence_id}/enrollments"),
        ("get", "/v1/workspaces/{ws}/enrollments"),
        ("get", "/v1/workspaces/{ws}/enrollments/{enrollment_id}"),
        ("post", "/v1/workspaces/{ws}/enrollments/{enrollment_id}/actions"),
        ("get", "/v1/workspaces/{ws}/sends"),
        ("post", "/v1/workspaces/{ws}/sends/{send_id}/resolve"),
        ("get", "/v1/unsubscribe/{token}"),
        ("post", "/v1/unsubscribe/{token}"),
        ("get", "/v1/workspaces/{ws}/audit"),
        ("get", "/v1/workspaces/{ws}/audit/verify"),
    ];
    let paths = document["paths"].as_object().unwrap();
    for (method, path) in served {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is missing from /openapi.json");
        // And the route really is served (anything but the router's own 404/405).
        let response = reqwest::Client::new()
            .request(
                method.to_uppercase().parse().unwrap(),
                format!("{}{}", host.base_url(), path.replace("{ws}", "0193a5f0-7c1e-7d2a-9b3c-1d2e3f405162")),
            )
            .send()
            .await
            .unwrap();
        assert_ne!(response.status(), 405, "{method} {path}");
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, served.len(), "the document lists routes the test does not know: update this list");
    host.stop().await;
}
