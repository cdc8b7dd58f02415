//! Integration tests of the `berth` binary, run as a user runs it. One test binary for the
//! package keeps link times down; each area is a module.

mod api;
mod build;
mod cli;
mod compose;
mod config;
mod conformance;
mod containers;
mod crash;
mod examples;
mod fake_registry;
mod images;
mod kube;
mod lifecycle;
mod logging;
mod network;
mod operators;
mod realworld;
mod registry;
mod resources;
mod secrets;
mod security;
mod stats;
mod support;
mod terminal;
mod tls;
mod update;
mod volumes;
mod watch;
