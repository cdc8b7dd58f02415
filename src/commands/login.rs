//! `berth login` and `berth logout`: credentials in `~/.docker/config.json`, shared with
//! Docker and skopeo.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::Context;
use berth_engine::reference::DOCKER_HUB;
use berth_engine::registry::auth::{self, Credentials};
use berth_engine::registry::{Client, config::Config};

use crate::cli::{LoginArgs, LogoutArgs};
use crate::engine;

pub fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let registry = args.server.clone().unwrap_or_else(|| DOCKER_HUB.to_string());
    let username = match args.username {
        Some(u) => u,
        None => prompt("Username: ")?,
    };
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = args.password {
        p
    } else {
        prompt("Password: ")?
    };
    let credentials = Credentials { username, password };
    check(&registry, &credentials)?;
    let path = auth::store(&registry, Some(&credentials)).context("cannot save the credentials")?;
    eprintln!("Login Succeeded (credentials saved in {})", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Asks `registry` whether it takes `credentials`.
pub(crate) fn check(registry: &str, credentials: &Credentials) -> anyhow::Result<()> {
    let endpoint = Config::load()?.registry_endpoint(registry);
    let check = async {
        let client = Client::open(&endpoint, registry, "library/login-check", false).await?;
        client.with_credentials(Some(credentials.clone())).check().await
    };
    engine::runtime()?.block_on(check).with_context(|| format!("cannot log in to {registry}"))
}

pub fn logout(args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let registry = args.server.unwrap_or_else(|| DOCKER_HUB.to_string());
    auth::store(&registry, None).context("cannot update the credentials file")?;
    eprintln!("Removing login credentials for {registry}");
    Ok(ExitCode::SUCCESS)
}

fn prompt(label: &str) -> anyhow::Result<String> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "{} is needed; pass it as a flag (the password with --password-stdin)",
            label.trim_end_matches(": ")
        );
    }
    eprint!("{label}");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}
