//! Networks and volumes: list, inspect, create, remove, and a container's connection to a
//! network.

use berth_engine::network::{self, EndpointRequest, NetworkOptions};
use berth_engine::volume;
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{ApiError, Call, Reply};
use crate::commands::filter::KeyFilters;
use crate::engine;

fn parse_filters(call: &Call, keys: &[&str]) -> Result<KeyFilters, ApiError> {
    KeyFilters::parse(&call.filters()?, keys).map_err(|e| ApiError::bad(e.to_string()))
}

pub fn networks(call: &Call) -> Result<Reply, ApiError> {
    let store = engine::store()?;
    let filters = parse_filters(call, crate::commands::network::FILTER_KEYS)?;
    let containers = store.list_containers()?;
    let all = network::list(&store)?;
    let shown: Vec<Value> = all
        .iter()
        .filter(|r| filters.matches(|k, v| crate::commands::network::matches(k, v, r, &containers)))
        .map(|r| crate::commands::network::inspect(&store, r))
        .collect();
    Ok(Reply::Json(StatusCode::OK, Value::Array(shown)))
}

pub fn network_inspect(id: &str) -> Result<Reply, ApiError> {
    let store = engine::store()?;
    let r = network::find(&store, id)?;
    Ok(Reply::Json(StatusCode::OK, crate::commands::network::inspect(&store, &r)))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct NetworkCreate {
    name: String,
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    internal: bool,
    #[serde(default)]
    attachable: bool,
    #[serde(default)]
    ingress: bool,
    #[serde(default, rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(default, rename = "IPAM")]
    ipam: Option<Ipam>,
    #[serde(default)]
    options: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    labels: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    check_duplicate: Option<bool>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    config_only: bool,
    #[serde(default)]
    config_from: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Ipam {
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    config: Option<Vec<IpamConfig>>,
    #[serde(default)]
    options: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct IpamConfig {
    #[serde(default)]
    subnet: Option<String>,
    #[serde(default, rename = "IPRange")]
    ip_range: Option<String>,
    #[serde(default)]
    gateway: Option<String>,
}

pub fn network_create(call: &Call) -> Result<Reply, ApiError> {
    let req: NetworkCreate = call.json()?;
    if req.name.is_empty() {
        return Err(ApiError::bad("network create needs a Name"));
    }
    if req.ingress || req.config_only || req.config_from.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(ApiError::bad("Ingress, ConfigOnly and ConfigFrom are swarm's: berth does not support them"));
    }
    let _ = (req.check_duplicate, req.scope);
    let ipam = req.ipam.unwrap_or_default();
    if ipam.driver.as_deref().is_some_and(|d| d != "default") || ipam.options.as_ref().is_some_and(|o| !o.is_empty()) {
        return Err(ApiError::bad("IPAM: berth has the default driver, without options"));
    }
    let configs = ipam.config.unwrap_or_default();
    if configs.len() > 1 {
        return Err(ApiError::bad("IPAM.Config: berth networks have one IPv4 subnet"));
    }
    let config = configs.into_iter().next().unwrap_or_default();
    let subnet = |s: Option<String>, what: &str| -> Result<_, ApiError> {
        s.filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|e| ApiError::bad(format!("IPAM.Config.{what}: {e}"))))
            .transpose()
    };
    let gateway = config
        .gateway
        .filter(|g| !g.is_empty())
        .map(|g| g.parse().map_err(|_| ApiError::bad(format!("IPAM.Config.Gateway: invalid address {g:?}"))))
        .transpose()?;
    let opts = NetworkOptions {
        name: req.name,
        driver: req.driver.filter(|d| !d.is_empty()),
        subnet: subnet(config.subnet, "Subnet")?,
        gateway,
        ip_range: subnet(config.ip_range, "IPRange")?,
        internal: req.internal,
        attachable: req.attachable,
        enable_ipv6: req.enable_ipv6.unwrap_or(false),
        labels: req.labels.unwrap_or_default(),
        options: req.options.unwrap_or_default(),
    };
    let store = engine::store()?;
    let record = network::create(&store, opts)?;
    Ok(Reply::Json(StatusCode::CREATED, json!({"Id": record.id, "Warning": ""})))
}

pub fn network_remove(id: &str) -> Result<Reply, ApiError> {
    let store = engine::store()?;
    let r = network::find(&store, id)?;
    network::remove(&store, &r)?;
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Connect {
    container: String,
    #[serde(default)]
    endpoint_config: Option<EndpointConfig>,
    #[serde(default)]
    force: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct EndpointConfig {
    #[serde(default)]
    aliases: Option<Vec<String>>,
    #[serde(default, rename = "IPAMConfig")]
    ipam_config: Option<EndpointIpam>,
    #[serde(default)]
    mac_address: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct EndpointIpam {
    #[serde(default, rename = "IPv4Address")]
    ipv4_address: Option<String>,
}

pub fn network_connect(call: &Call, id: &str, connect: bool) -> Result<Reply, ApiError> {
    let req: Connect = call.json()?;
    let store = engine::store()?;
    let r = network::find(&store, id)?;
    let c = store.find_container(&req.container)?;
    if connect {
        let e = req.endpoint_config.unwrap_or_default();
        let ip = e
            .ipam_config
            .and_then(|i| i.ipv4_address)
            .filter(|a| !a.is_empty())
            .map(|a| a.parse().map_err(|_| ApiError::bad(format!("invalid IPv4Address {a:?}"))))
            .transpose()?;
        let request = EndpointRequest {
            network: r.name,
            aliases: e.aliases.unwrap_or_default(),
            ipv4_address: ip,
            mac_address: e.mac_address.filter(|m| !m.is_empty()),
            ..Default::default()
        };
        network::connect(&store, &c, request)?;
    } else {
        let _ = req.force;
        network::disconnect(&store, &c, &r.name)?;
    }
    Ok(Reply::Empty(StatusCode::OK))
}

/// A volume as Docker shows it.
fn volume_object(store: &berth_engine::store::Store, v: &berth_engine::volume::Volume) -> Value {
    json!({
        "Name": v.name, "Driver": v.driver, "Mountpoint": volume::volumes(store).data(&v.name),
        "CreatedAt": v.created, "Labels": v.labels, "Options": v.options, "Scope": "local",
    })
}

pub fn volumes(call: &Call) -> Result<Reply, ApiError> {
    let store = engine::store()?;
    let filters = parse_filters(call, crate::commands::volume::FILTER_KEYS)?;
    let containers = store.list_containers()?;
    let all = volume::volumes(&store).list()?;
    let shown: Vec<Value> = all
        .iter()
        .filter(|v| filters.matches(|key, value| crate::commands::volume::matches(key, value, v, &containers)))
        .map(|v| volume_object(&store, v))
        .collect();
    Ok(Reply::Json(StatusCode::OK, json!({"Volumes": shown, "Warnings": []})))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct VolumeCreate {
    #[serde(default)]
    name: String,
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    driver_opts: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    labels: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    cluster_volume_spec: Option<Value>,
}

pub fn volume_create(call: &Call) -> Result<Reply, ApiError> {
    let req: VolumeCreate = call.json()?;
    if req.cluster_volume_spec.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(ApiError::bad("ClusterVolumeSpec is swarm's: berth does not support it"));
    }
    let name = if req.name.is_empty() { berth_engine::container::new_id() } else { req.name };
    let store = engine::store()?;
    let v = volume::create(
        &store,
        &name,
        req.driver.as_deref().filter(|d| !d.is_empty()),
        req.labels.unwrap_or_default(),
        req.driver_opts.unwrap_or_default(),
    )?;
    Ok(Reply::Json(StatusCode::CREATED, volume_object(&store, &v)))
}

pub fn volume_inspect(name: &str) -> Result<Reply, ApiError> {
    let store = engine::store()?;
    let v =
        volume::volumes(&store).get(name)?.ok_or_else(|| ApiError::not_found(format!("get {name}: no such volume")))?;
    Ok(Reply::Json(StatusCode::OK, volume_object(&store, &v)))
}

pub fn volume_remove(name: &str) -> Result<Reply, ApiError> {
    let store = engine::store()?;
    if volume::volumes(&store).get(name)?.is_none() {
        return Err(ApiError::not_found(format!("get {name}: no such volume")));
    }
    volume::remove(&store, name)?;
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}
