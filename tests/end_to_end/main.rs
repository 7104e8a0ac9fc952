//! End-to-end tests: the real functions, wired by the dev host, on moto.
//! Run with `scripts/test` (it starts moto and sets TERN_TEST_AWS_ENDPOINT).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test, with its place

mod access;
mod attacks_api_keys;
mod audit_trail;
mod contact_enrichment;
mod deletion;
mod enrichment;
mod erasure;
mod events;
mod exactly_once;
mod export;
mod first_line;
mod identity;
mod inbound;
mod llm;
mod logs;
mod openapi;
mod outreach;
mod platform;
mod queues;
mod retention;
mod route_matrix;
mod sending_domains;
mod sign_in_attacks;
mod signup;
mod template;
