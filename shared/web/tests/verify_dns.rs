//! E-mail verification against a tiny DNS server this test starts on
//! 127.0.0.1 (UDP), answering MX/A/AAAA from a table and NXDOMAIN otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, MX};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tern_web::verify::{Reason, Verdict, Verifier};
use tokio::net::UdpSocket;

#[derive(Clone)]
enum Entry {
    /// Answer these records for these types; other types get NODATA.
    Records(Vec<(RecordType, RData)>),
    /// SERVFAIL for everything.
    ServFail,
    /// Never answer (the resolver must time out, not hang).
    Silent,
}

fn name(s: &str) -> Name {
    Name::from_str(s).expect("test name")
}

fn table() -> HashMap<String, Entry> {
    let mx = |pref: u16, host: &str| (RecordType::MX, RData::MX(MX::new(pref, name(host))));
    let a = |ip: [u8; 4]| (RecordType::A, RData::A(A(Ipv4Addr::from(ip))));
    let mut t = HashMap::new();
    t.insert("acme.example.".into(), Entry::Records(vec![mx(20, "mx2.acme.example."), mx(10, "MX1.acme.example.")]));
    t.insert("gmail.com.".into(), Entry::Records(vec![mx(5, "gmail-smtp-in.l.google.com.")]));
    t.insert("nullmx.example.".into(), Entry::Records(vec![mx(0, ".")]));
    t.insert("implicit.example.".into(), Entry::Records(vec![a([93, 184, 216, 34])]));
    t.insert("nomail.example.".into(), Entry::Records(vec![]));
    t.insert("broken.example.".into(), Entry::ServFail);
    t.insert("slow.example.".into(), Entry::Silent);
    t
}

/// Starts the responder; returns its address.
async fn dns_server() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
    let addr = socket.local_addr().expect("addr");
    let table = Arc::new(table());
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let Ok(request) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            let Some(query) = request.queries.first().cloned() else {
                continue;
            };
            let mut response = Message::response(request.metadata.id, OpCode::Query);
            response.metadata.recursion_desired = request.metadata.recursion_desired;
            response.metadata.recursion_available = true;
            response.add_query(query.clone());
            let qname = query.name().to_ascii().to_ascii_lowercase();
            match table.get(&qname) {
                None => response.metadata.response_code = ResponseCode::NXDomain,
                Some(Entry::Silent) => continue,
                Some(Entry::ServFail) => response.metadata.response_code = ResponseCode::ServFail,
                Some(Entry::Records(records)) => {
                    for (rtype, rdata) in records {
                        if *rtype == query.query_type() {
                            response.add_answer(Record::from_rdata(query.name().clone(), 60, rdata.clone()));
                        }
                    }
                }
            }
            if let Ok(bytes) = response.to_vec() {
                let _ = socket.send_to(&bytes, peer).await;
            }
        }
    });
    addr
}

async fn verifier() -> Verifier {
    let addr = dns_server().await;
    Verifier::with_name_servers(&[addr], Duration::from_millis(800)).expect("verifier")
}

#[tokio::test]
async fn valid_business_address_with_mx_hosts_by_preference() {
    let v = verifier().await.verify("Jane.Doe@ACME.example").await;
    assert_eq!(v.verdict, Verdict::Valid, "{v:?}");
    assert_eq!(v.normalised, "jane.doe@acme.example");
    assert_eq!(v.mx_hosts, vec!["mx1.acme.example", "mx2.acme.example"]);
    assert!(v.reasons.is_empty());
    assert!(!v.free_provider && !v.disposable && !v.role_account);
}

#[tokio::test]
async fn role_account_is_risky() {
    let v = verifier().await.verify("info@acme.example").await;
    assert_eq!(v.verdict, Verdict::Risky);
    assert!(v.role_account);
    assert!(v.reasons.contains(&Reason::RoleAccount));
}

#[tokio::test]
async fn free_provider_is_flagged_but_valid() {
    let v = verifier().await.verify("someone@gmail.com").await;
    assert_eq!(v.verdict, Verdict::Valid);
    assert!(v.free_provider);
    assert!(v.reasons.contains(&Reason::FreeProvider));
}

#[tokio::test]
async fn disposable_is_invalid_without_dns() {
    let v = verifier().await.verify("x@mailinator.com").await;
    assert_eq!(v.verdict, Verdict::Invalid);
    assert!(v.disposable);
    assert_eq!(v.reasons, vec![Reason::Disposable]);
}

#[tokio::test]
async fn null_mx_is_invalid() {
    let v = verifier().await.verify("a@nullmx.example").await;
    assert_eq!(v.verdict, Verdict::Invalid, "{v:?}");
    assert!(v.reasons.contains(&Reason::NullMx));
}

#[tokio::test]
async fn implicit_mx_via_a_record_is_risky() {
    let v = verifier().await.verify("a@implicit.example").await;
    assert_eq!(v.verdict, Verdict::Risky, "{v:?}");
    assert!(v.reasons.contains(&Reason::ImplicitMx));
    assert!(v.mx_hosts.is_empty());
}

#[tokio::test]
async fn no_mx_and_no_address_is_invalid() {
    let v = verifier().await.verify("a@nomail.example").await;
    assert_eq!(v.verdict, Verdict::Invalid, "{v:?}");
    assert!(v.reasons.contains(&Reason::NoMailServer));
}

#[tokio::test]
async fn nxdomain_is_invalid() {
    let v = verifier().await.verify("a@does-not-exist.example").await;
    assert_eq!(v.verdict, Verdict::Invalid, "{v:?}");
    assert!(v.reasons.contains(&Reason::DomainNotFound));
}

#[tokio::test]
async fn servfail_is_unknown() {
    let v = verifier().await.verify("a@broken.example").await;
    assert_eq!(v.verdict, Verdict::Unknown, "{v:?}");
    assert!(v.reasons.iter().any(|r| matches!(r, Reason::DnsError(_) | Reason::DnsTimeout)));
}

#[tokio::test]
async fn silent_server_is_unknown_not_a_hang() {
    let v = verifier().await.verify("a@slow.example").await;
    assert_eq!(v.verdict, Verdict::Unknown, "{v:?}");
    assert!(v.reasons.contains(&Reason::DnsTimeout) || v.reasons.iter().any(|r| matches!(r, Reason::DnsError(_))));
}

#[tokio::test]
async fn bad_syntax_is_invalid_without_dns() {
    let verifier = verifier().await;
    for bad in ["not-an-address", "\"q\"@acme.example", "a..b@acme.example", "a@[10.0.0.1]"] {
        let v = verifier.verify(bad).await;
        assert_eq!(v.verdict, Verdict::Invalid, "{bad}");
        assert!(matches!(v.reasons.as_slice(), [Reason::Syntax(_)]), "{bad}: {v:?}");
    }
}

#[tokio::test]
async fn idn_domain_is_looked_up_as_punycode() {
    let v = verifier().await.verify("a@bücher.example").await;
    assert_eq!(v.normalised, "a@xn--bcher-kva.example");
    // Not in the table: NXDOMAIN, which proves the punycode name was asked.
    assert!(v.reasons.contains(&Reason::DomainNotFound), "{v:?}");
}
