//! Every blocked URL form, each proven blocked by its own assertion, at the
//! guard (`check_url`) with the production website policy.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

use std::net::IpAddr;

use tern_web::guard::{AddressClass, CheckedHost, Policy, Refusal, check_url};
use url::Url;

fn check(s: &str) -> Result<CheckedHost, Refusal> {
    let url = Url::parse(s).expect("test URL parses");
    check_url(&url, &Policy::website())
}

fn refused_as(s: &str, ip: &str, class: AddressClass) {
    let ip: IpAddr = ip.parse().expect("test IP parses");
    assert_eq!(check(s), Err(Refusal::Address { ip, class }), "{s}");
}

#[test]
fn loopback_literal() {
    refused_as("http://127.0.0.1/", "127.0.0.1", AddressClass::Loopback);
}

#[test]
fn localhost_name_is_refused_before_resolution() {
    // (That "localhost" also *resolves* to forbidden addresses only is
    // proven in tests/fetch.rs with the system resolver.)
    assert_eq!(check("http://localhost/"), Err(Refusal::LocalName("localhost".into())));
    assert_eq!(check("http://LOCALHOST./"), Err(Refusal::LocalName("localhost".into())));
    assert_eq!(check("http://app.localhost/"), Err(Refusal::LocalName("app.localhost".into())));
}

#[test]
fn decimal_ipv4() {
    refused_as("http://2130706433/", "127.0.0.1", AddressClass::Loopback);
}

#[test]
fn hex_ipv4() {
    refused_as("http://0x7f000001/", "127.0.0.1", AddressClass::Loopback);
    refused_as("http://0x7f.1/", "127.0.0.1", AddressClass::Loopback);
}

#[test]
fn octal_ipv4() {
    refused_as("http://0177.0.0.1/", "127.0.0.1", AddressClass::Loopback);
}

#[test]
fn short_ipv4() {
    refused_as("http://127.1/", "127.0.0.1", AddressClass::Loopback);
}

#[test]
fn trailing_dot_ipv4() {
    refused_as("http://127.0.0.1./", "127.0.0.1", AddressClass::Loopback);
}

#[test]
fn bracketed_ipv6_loopback() {
    refused_as("http://[::1]/", "::1", AddressClass::Loopback);
}

#[test]
fn ipv4_mapped_ipv6() {
    refused_as("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", AddressClass::Ipv4Mapped);
    refused_as("http://[::ffff:7f00:1]/", "::ffff:127.0.0.1", AddressClass::Ipv4Mapped);
}

#[test]
fn unspecified_v4() {
    refused_as("http://0.0.0.0/", "0.0.0.0", AddressClass::Unspecified);
}

#[test]
fn unspecified_v6() {
    refused_as("http://[::]/", "::", AddressClass::Unspecified);
}

#[test]
fn rfc1918_10() {
    refused_as("http://10.0.0.1/", "10.0.0.1", AddressClass::Private);
}

#[test]
fn rfc1918_172() {
    refused_as("http://172.16.5.4/", "172.16.5.4", AddressClass::Private);
}

#[test]
fn rfc1918_192() {
    refused_as("http://192.168.1.1/", "192.168.1.1", AddressClass::Private);
}

#[test]
fn cloud_metadata_v4() {
    refused_as("http://169.254.169.254/latest/meta-data/", "169.254.169.254", AddressClass::CloudMetadata);
}

#[test]
fn cgnat() {
    refused_as("http://100.64.0.1/", "100.64.0.1", AddressClass::SharedAddressSpace);
}

#[test]
fn cloud_metadata_v6() {
    refused_as("http://[fd00:ec2::254]/", "fd00:ec2::254", AddressClass::CloudMetadata);
}

#[test]
fn multicast() {
    refused_as("http://224.0.0.1/", "224.0.0.1", AddressClass::Multicast);
}

#[test]
fn nat64_and_6to4_embedding_loopback() {
    refused_as("http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1", AddressClass::Nat64Forbidden);
    refused_as("http://[2002:7f00:1::]/", "2002:7f00:1::", AddressClass::SixToFourForbidden);
}

#[test]
fn ftp_scheme() {
    assert_eq!(check("ftp://example.com/"), Err(Refusal::Scheme("ftp".into())));
    assert_eq!(check("file:///etc/passwd"), Err(Refusal::Scheme("file".into())));
    assert_eq!(check("gopher://example.com/"), Err(Refusal::Scheme("gopher".into())));
}

#[test]
fn ssh_port() {
    assert_eq!(check("http://example.com:22/"), Err(Refusal::Port(22)));
    assert_eq!(check("https://example.com:8443/"), Err(Refusal::Port(8443)));
}

#[test]
fn credentials_in_url() {
    assert_eq!(check("http://user:pass@example.com/"), Err(Refusal::Credentials));
    assert_eq!(check("http://user@example.com/"), Err(Refusal::Credentials));
    assert_eq!(check("http://:pass@example.com/"), Err(Refusal::Credentials));
}

#[test]
fn public_urls_pass_and_idn_becomes_punycode() {
    assert_eq!(check("https://example.com/"), Ok(CheckedHost::Domain("example.com".into())));
    assert_eq!(check("http://example.com:80/x"), Ok(CheckedHost::Domain("example.com".into())));
    assert_eq!(check("https://bücher.example/"), Ok(CheckedHost::Domain("xn--bcher-kva.example".into())));
    assert_eq!(check("http://93.184.216.34/"), Ok(CheckedHost::Ip("93.184.216.34".parse().expect("ip"))));
}

#[test]
fn test_allowance_is_scoped_to_one_loopback_port() {
    let policy = Policy::website().allow_loopback_for_tests(4000);
    let ok = Url::parse("http://127.0.0.1:4000/").expect("url");
    assert!(check_url(&ok, &policy).is_ok());
    // Another port on loopback: refused.
    let other = Url::parse("http://127.0.0.1:4001/").expect("url");
    assert!(matches!(check_url(&other, &policy), Err(Refusal::Address { .. })));
    // Another forbidden class on the allowed port: refused.
    let private = Url::parse("http://10.0.0.1:4000/").expect("url");
    assert!(matches!(check_url(&private, &policy), Err(Refusal::Address { .. })));
    // A name on the allowed port is not a loopback literal: it still goes
    // through the guarded resolver, which refuses loopback answers.
    let name = Url::parse("http://localhost:4000/").expect("url");
    assert!(check_url(&name, &policy).is_err());
    // Not the default.
    assert!(check_url(&ok, &Policy::website()).is_err());
}
