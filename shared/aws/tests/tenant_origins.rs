//! Each way of obtaining a [`tern_aws::Tenant`] is used only where that lookup is
//! performed (see `shared/aws/src/tenant.rs`). A new place that turns a bare
//! workspace id into a tenant fails here until it is added below, with a reason a
//! reviewer can check.

use std::path::{Path, PathBuf};

/// Constructor (as written in code) → the files allowed to call it.
const ALLOWED: &[(&str, &[&str])] = &[
    // The api's extractor: the path's workspace, read only to admit or refuse the caller.
    ("Lookup::RequestPath", &["functions/api/src/auth.rs"]),
    ("Lookup::ApiKey", &["functions/api/src/auth.rs"]),
    // A person's membership index (their record's workspaces, a session's workspace).
    ("Lookup::Membership", &["functions/api/src/users.rs"]),
    ("Lookup::Invitation", &["functions/api/src/routes/invites.rs"]),
    ("Lookup::UnsubscribeToken", &["functions/api/src/routes/unsubscribe.rs", "shared/aws/src/inbound.rs"]),
    ("Lookup::InboundRoute", &["functions/inbound/src/lib.rs", "shared/aws/src/inbound.rs"]),
    ("Lookup::SentMailTag", &["functions/feedback/src/lib.rs"]),
    ("Lookup::Parent", &["functions/api/src/auth.rs", "functions/send/src/lib.rs"]),
    ("Lookup::Operator", &["infra/operator/src/lib.rs"]),
    ("Lookup::Observer", &["tests/src/lib.rs", "shared/aws/tests/audit.rs", "shared/aws/tests/counters.rs"]),
    // Sign-up and sub-workspaces create workspaces.
    ("Tenant::create(", &["functions/api/src/routes/identity.rs", "functions/api/src/routes/workspaces.rs"]),
    // The adapter's named cross-tenant modules.
    ("Tenant::cross_tenant(", &["shared/aws/src/outreach/store.rs", "shared/aws/src/deletion/sweep.rs"]),
];

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name == "node_modules" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn each_tenant_origin_is_used_only_where_its_lookup_happens() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
    let mut files = Vec::new();
    sources(&root, &mut files);
    let this_test = Path::new(file!()).file_name().unwrap().to_owned();
    let mut used = vec![false; ALLOWED.len()];
    let mut misplaced = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        if relative == "shared/aws/src/tenant.rs" || file.file_name() == Some(this_test.as_os_str()) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (i, (constructor, allowed)) in ALLOWED.iter().enumerate() {
            if text.contains(constructor) {
                used[i] = true;
                if !allowed.contains(&relative.as_str()) {
                    misplaced.push(format!("{constructor} in {relative}"));
                }
            }
        }
    }
    assert!(misplaced.is_empty(), "tenants made outside the places that perform their lookup: {misplaced:#?}");
    let unused: Vec<_> = ALLOWED.iter().zip(&used).filter(|(_, used)| !**used).map(|((c, _), _)| *c).collect();
    assert!(unused.is_empty(), "origins nothing uses any more (remove them from Lookup and here): {unused:?}");
}
