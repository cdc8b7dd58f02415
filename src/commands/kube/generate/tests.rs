use super::*;

fn project(yaml: &str) -> Project {
    let mut options = berth_compose::Options::new(std::env::temp_dir(), Default::default());
    options.files = vec!["-".into()];
    options.stdin = Some(yaml.to_string());
    berth_compose::load(&options).expect("the project loads").project
}

fn kinds(g: &Generated) -> Vec<String> {
    g.objects
        .iter()
        .map(|o| format!("{}/{}", o["kind"].as_str().unwrap_or(""), o["metadata"]["name"].as_str().unwrap_or("")))
        .collect()
}

const SHOP: &str = r#"
name: shop
services:
  migrate:
    image: shop/migrate:1
    restart: "no"
  db:
    image: postgres:16
    user: "999:999"
    volumes: ["data:/var/lib/postgresql/data"]
    networks: [back]
    healthcheck:
      test: ["CMD-SHELL", "pg_isready"]
      interval: 5s
      retries: 5
      start_period: 20s
  web:
    build: .
    command: ["serve", "--port", "80"]
    environment: {MODE: prod}
    ports: ["8080:80"]
    networks: [front, back]
    cap_drop: [ALL]
    read_only: true
    tmpfs: [/tmp]
    deploy: {replicas: 2, resources: {limits: {cpus: "0.5", memory: 256M}}}
    secrets: [token]
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
networks:
  front: {}
  back: {internal: true}
volumes:
  data:
    x-kube-size: 5Gi
secrets:
  token: {content: s3cret}
"#;

#[test]
fn a_project_becomes_workloads_services_policies_claims_and_secrets() {
    let opts = Options { image_prefix: Some("registry.lan/".into()), ..Options::default() };
    let g = generate(&project(SHOP), &[], &opts).expect("generates");
    let k = kinds(&g);
    for want in [
        "Deployment/db",
        "Service/db",
        "Job/migrate",
        "Deployment/web",
        "Service/web",
        "NetworkPolicy/shop-web-published",
        "Secret/shop-secret-token",
        "NetworkPolicy/shop-back",
        "NetworkPolicy/shop-front",
        "PersistentVolumeClaim/data",
        "ServiceAccount/shop-waiter",
        "Role/shop-waiter",
        "RoleBinding/shop-waiter",
    ] {
        assert!(k.contains(&want.to_string()), "{want} in {k:?}");
    }
    let web = g.objects.iter().find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "web").expect("web");
    assert_eq!(web["spec"]["replicas"], 2);
    let pod = &web["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "registry.lan/shop-web", "a built image under the prefix");
    assert_eq!(c["args"], json!(["serve", "--port", "80"]));
    assert_eq!(c["env"], json!([{"name": "MODE", "value": "prod"}]));
    assert_eq!(c["resources"]["limits"], json!({"cpu": "500m", "memory": "268435456"}));
    assert_eq!(c["securityContext"], json!({"readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}}));
    let init: Vec<&str> =
        pod["initContainers"].as_array().expect("init").iter().map(|i| i["name"].as_str().unwrap_or("")).collect();
    assert_eq!(init, ["wait-for-db", "wait-for-migrate"]);
    assert_eq!(pod["serviceAccountName"], "shop-waiter");
    let labels = &web["spec"]["template"]["metadata"]["labels"];
    assert_eq!(labels["berth.dev/network-front"], "true");
    assert_eq!(labels["berth.dev/network-back"], "true");
    let mounts = c["volumeMounts"].as_array().expect("mounts");
    assert!(mounts.iter().any(|m| m["mountPath"] == "/run/secrets/token" && m["subPath"] == "content"));
    assert!(pod["volumes"].as_array().expect("volumes").iter().any(|v| v["emptyDir"]["medium"] == "Memory"));

    let db = g.objects.iter().find(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "db").expect("db");
    let c = &db["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["readinessProbe"]["exec"]["command"], json!(["/bin/sh", "-c", "pg_isready"]));
    assert_eq!(c["readinessProbe"]["periodSeconds"], 5);
    assert_eq!(c["livenessProbe"]["failureThreshold"], 5);
    assert_eq!(c["startupProbe"]["failureThreshold"], 9, "20s of start period every 5s, then the retries");
    assert_eq!(c["securityContext"], json!({"runAsUser": 999, "runAsGroup": 999}));
    let claim = g.objects.iter().find(|o| o["kind"] == "PersistentVolumeClaim").expect("claim");
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "5Gi");
    let db_service = g.objects.iter().find(|o| o["kind"] == "Service" && o["metadata"]["name"] == "db").expect("db");
    assert_eq!(db_service["spec"]["clusterIP"], "None", "waited on by name, without ports: headless");

    let back = g.objects.iter().find(|o| o["metadata"]["name"] == "shop-back").expect("back");
    assert_eq!(
        back["spec"]["policyTypes"],
        json!(["Ingress", "Egress"]),
        "internal: no egress but the network and DNS"
    );
    let job = g.objects.iter().find(|o| o["kind"] == "Job").expect("job");
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
}

#[test]
fn binds_are_refused_by_name_unless_hostpath_and_the_rest_warned() {
    let yaml = "name: dev\nservices:\n  app:\n    image: app\n    volumes: ['./src:/src', '/etc/app:/etc/app:ro']\n    pid: host\n    devices: ['/dev/fuse']\n    user: app\n";
    let err = generate(&project(yaml), &[], &Options::default()).err().expect("refused");
    assert!(err.contains("/src") && err.contains("/etc/app") && err.contains("--hostpath"), "{err}");
    let g = generate(&project(yaml), &[], &Options { hostpath: true, ..Options::default() }).expect("generates");
    let pod = &g.objects[0]["spec"]["template"]["spec"];
    assert!(
        pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .any(|v| v["hostPath"]["path"].as_str().is_some_and(|p| p.ends_with("/src")))
    );
    assert_eq!(pod["hostPID"], true);
    for w in ["pid: host", "devices", "user \"app\""] {
        assert!(g.warnings.iter().any(|x| x.contains(w)), "{w} in {:?}", g.warnings);
    }
}

#[test]
fn a_replicated_service_with_a_volume_is_a_statefulset() {
    let yaml = "name: st\nservices:\n  kv:\n    image: etcd\n    scale: 3\n    volumes: ['data:/data']\nvolumes:\n  data: {}\n";
    let g = generate(&project(yaml), &[], &Options::default()).expect("generates");
    let k = kinds(&g);
    assert!(k.contains(&"StatefulSet/kv".to_string()) && k.contains(&"Service/kv".to_string()), "{k:?}");
    assert!(!k.iter().any(|o| o.starts_with("PersistentVolumeClaim")), "claims are the StatefulSet's: {k:?}");
    let set = &g.objects[0];
    assert_eq!(set["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "1Gi");
    assert_eq!(set["spec"]["serviceName"], "kv");
}

#[test]
fn names_become_dns_names() {
    assert_eq!(dns_name("My_Service.v2"), "my-service-v2");
    assert_eq!(dns_name("--x--"), "x");
    assert!(super::parts::valid_label("app.kubernetes.io/name", "web"));
    assert!(!super::parts::valid_label("com.example.description", "a long text with spaces"));
}

#[test]
fn every_attribute_left_out_is_named() {
    let yaml = "name: w\nservices:\n  a:\n    image: x\n    shm_size: 64m\n    ulimits: {nofile: 1024}\n    extra_hosts: ['db=10.0.0.5']\n    dns: [1.1.1.1]\n    hostname: box\n    deploy: {restart_policy: {condition: any}}\n    pull_policy: never\n";
    let g = generate(&project(yaml), &[], &Options::default()).expect("generates");
    for w in ["shm_size has no counterpart", "ulimits has no counterpart", "deploy.restart_policy has no counterpart"] {
        assert!(g.warnings.iter().any(|x| x.contains(w)), "{w} in {:?}", g.warnings);
    }
    assert!(!g.warnings.iter().any(|x| x.contains("extra_hosts") || x.contains("hostname")), "{:?}", g.warnings);
    let pod = &g.objects[0]["spec"]["template"]["spec"];
    assert_eq!(pod["hostAliases"], json!([{"ip": "10.0.0.5", "hostnames": ["db"]}]));
    assert_eq!(pod["dnsConfig"]["nameservers"], json!(["1.1.1.1"]));
    assert_eq!(pod["hostname"], "box");
    assert_eq!(pod["containers"][0]["imagePullPolicy"], "Never");
}
