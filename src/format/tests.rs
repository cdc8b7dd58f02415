//! The template cases of Docker's documentation (`docker inspect`, `docker ps`, `docker
//! images`, "Format command and log output"), as data: template, object, expected text.

use super::*;
use serde_json::json;

fn container() -> Json {
    json!({
        "Id": "a87ecb4f327c63f6b2b0a34bf7a2e8c7e4d1b2c2",
        "Name": "/Web-App",
        "Path": "sleep",
        "Args": ["sleep", "3600"],
        "Image": "sha256:0a5d8d6e1bd4",
        "LogPath": "/var/lib/berth/containers/a87ecb4f327c/log.json",
        "Config": {"Image": "busybox:latest", "Hostname": "a87ecb4f327c", "Labels": {"com.example.vendor": "ACME", "a.b": "c"}},
        "NetworkSettings": {
            "Networks": {"back": {"IPAddress": "172.18.0.2", "MacAddress": "02:42:ac:12:00:02"},
                         "front": {"IPAddress": "172.19.0.2", "MacAddress": "02:42:ac:13:00:02"}},
            "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "8787/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8787"}]}
        },
        "Mounts": [{"Type": "volume", "Name": "data", "Destination": "/data"}],
        "State": {"Status": "running", "Pid": 4242, "Running": true}
    })
}

#[test]
fn inspect_cases_of_dockers_documentation() {
    let c = container();
    let cases: &[(&str, &str)] = &[
        ("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "172.18.0.2172.19.0.2"),
        ("{{range .NetworkSettings.Networks}}{{.MacAddress}}{{end}}", "02:42:ac:12:00:0202:42:ac:13:00:02"),
        ("{{.LogPath}}", "/var/lib/berth/containers/a87ecb4f327c/log.json"),
        ("{{.Config.Image}}", "busybox:latest"),
        (
            "{{range $p, $conf := .NetworkSettings.Ports}} {{$p}} -> {{(index $conf 0).HostPort}} {{end}}",
            " 80/tcp -> 8080  8787/tcp -> 8787 ",
        ),
        ("{{(index (index .NetworkSettings.Ports \"8787/tcp\") 0).HostPort}}", "8787"),
        (
            "{{json .Config}}",
            r#"{"Image":"busybox:latest","Hostname":"a87ecb4f327c","Labels":{"com.example.vendor":"ACME","a.b":"c"}}"#,
        ),
        ("{{index .Config.Labels \"a.b\"}}", "c"),
        ("{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}", "data:/data "),
        ("{{join .Args \" , \"}}", "sleep , 3600"),
        ("{{lower .Name}}", "/web-app"),
        ("{{upper .Name}}", "/WEB-APP"),
        ("{{title .Path}}", "Sleep"),
        ("{{split .Image \":\"}}", "[sha256 0a5d8d6e1bd4]"),
        ("{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}", "172.18.0.2\n172.19.0.2\n"),
        ("{{json .Mounts}}", r#"[{"Type":"volume","Name":"data","Destination":"/data"}]"#),
        ("{{.Config.Labels}}", "map[a.b:c com.example.vendor:ACME]"),
        ("{{.Args}}", "[sleep 3600]"),
        ("pid={{.State.Pid}} up={{.State.Running}}", "pid=4242 up=true"),
        ("{{.State.Health}}", "<no value>"),
        ("{{truncate .Id 12}}", "a87ecb4f327c"),
        ("{{pad .Path 2 3}}|", "  sleep   |"),
        ("{{if eq .State.Status \"running\"}}up{{else}}down{{end}}", "up"),
    ];
    for (template, want) in cases {
        assert_eq!(render(template, &c).expect(template), *want, "{template}");
    }
    assert!(render("{{.Id", &c).is_err(), "an unclosed action is an error");
    assert!(render("{{nosuchfunc .Id}}", &c).is_err(), "an unknown function is an error");
}

const PS: Columns = Columns {
    default: "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
    headers: &[
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("RunningFor", "CREATED"),
        ("Status", "STATUS"),
        ("Ports", "PORTS"),
        ("Names", "NAMES"),
        ("Labels", "LABELS"),
    ],
};

fn ps_rows() -> Vec<Json> {
    vec![
        json!({"ID": "a87ecb4f327c", "Image": "busybox", "Command": "\"sleep 3600\"", "RunningFor": "2 minutes ago",
               "Status": "Up 2 minutes", "Ports": "", "Names": "web", "Labels": "com.example.vendor=ACME,a.b=c",
               "__labels": {"com.example.vendor": "ACME", "a.b": "c"}}),
        json!({"ID": "01946d9d34d8", "Image": "registry.lan/app:1", "Command": "\"/bin/sh -c 'exec…\"",
               "RunningFor": "3 hours ago", "Status": "Exited (0) 1 hour ago", "Ports": "127.0.0.1:8080->80/tcp",
               "Names": "app", "Labels": ""}),
    ]
}

#[test]
fn ps_cases_of_dockers_documentation() {
    let rows = ps_rows();
    let render = |format: &str| Format::parse(Some(format), &PS).expect(format).render(&rows, &PS).expect(format);
    assert_eq!(render("{{.ID}}: {{.Command}}"), "a87ecb4f327c: \"sleep 3600\"\n01946d9d34d8: \"/bin/sh -c 'exec…\"\n");
    assert_eq!(
        render("table {{.ID}}\\t{{.Labels}}"),
        "CONTAINER ID   LABELS\na87ecb4f327c   com.example.vendor=ACME,a.b=c\n01946d9d34d8   \n"
    );
    assert_eq!(
        render("table"),
        concat!(
            "CONTAINER ID   IMAGE                COMMAND               CREATED         STATUS                  PORTS                    NAMES\n",
            "a87ecb4f327c   busybox              \"sleep 3600\"          2 minutes ago   Up 2 minutes                                     web\n",
            "01946d9d34d8   registry.lan/app:1   \"/bin/sh -c 'exec…\"   3 hours ago     Exited (0) 1 hour ago   127.0.0.1:8080->80/tcp   app\n",
        )
    );
    assert_eq!(render("json").lines().count(), 2);
    assert!(!render("json").contains("__labels"), "what only templates use stays out of the JSON");
    assert!(!render("{{json .}}").contains("__labels"), "and out of a template's json");
    assert_eq!(render("{{.Names}}: {{.Label \"com.example.vendor\"}}"), "web: ACME\napp: \n");
    assert_eq!(render("table {{.Names}}\\t{{.Label \"a.b\"}}"), "NAMES     LABEL\nweb       c\napp       \n");
    assert_eq!(render("{{.Names}}\t{{.Status}}"), "web\tUp 2 minutes\napp\tExited (0) 1 hour ago\n");
    assert!(
        Format::parse(Some("{{.Nope}}"), &PS).expect("parses").render(&rows, &PS).is_err(),
        "an unknown field is an error"
    );
}

#[test]
fn images_cases_of_dockers_documentation() {
    const IMAGES: Columns = Columns {
        default: "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
        headers: &[
            ("Repository", "REPOSITORY"),
            ("Tag", "TAG"),
            ("ID", "IMAGE ID"),
            ("CreatedSince", "CREATED"),
            ("Size", "SIZE"),
        ],
    };
    let rows = vec![
        json!({"ID": "77af4d6b9913", "Repository": "busybox", "Tag": "latest", "CreatedSince": "19 hours ago", "Size": "1.09MB", "Digest": "<none>"}),
        json!({"ID": "b6fa739cedf5", "Repository": "committ", "Tag": "<none>", "CreatedSince": "5 weeks ago", "Size": "1.09MB", "Digest": "<none>"}),
    ];
    let render =
        |format: &str| Format::parse(Some(format), &IMAGES).expect(format).render(&rows, &IMAGES).expect(format);
    assert_eq!(render("{{.ID}}: {{.Repository}}"), "77af4d6b9913: busybox\nb6fa739cedf5: committ\n");
    assert_eq!(
        render("table {{.ID}}\\t{{.Repository}}\\t{{.Tag}}"),
        "IMAGE ID       REPOSITORY   TAG\n77af4d6b9913   busybox      latest\nb6fa739cedf5   committ      <none>\n"
    );
    assert_eq!(render("{{.Digest}}"), "<none>\n<none>\n", "a field outside the default table is still there");
}

#[test]
fn tabwriter_pads_to_ten_and_leaves_the_last_cell() {
    assert_eq!(tabwriter("A\tB\nlonger cell\tC"), "A             B\nlonger cell   C\n");
    assert_eq!(tabwriter("no tabs"), "no tabs\n");
}
