//! Case import from CSV (issue #18) against the real server binary on 127.0.0.1 (real
//! sled store): a dry run lists every problem by line, a file with a broken line is
//! refused whole and stores nothing, the fixed file imports, the cases reach the
//! assigned worker's phone, and their history names the importing coordinator as
//! recorded by the server.

use anyhow::Result;
use casesync_core::case::Role;
use casesync_tests::harness::*;
use serde_json::{json, Value};

const D: &str = "sylhet";

fn mapping() -> Value {
    json!({
        "columns": {
            "id": "Case no",
            "client.name": "Name",
            "village": "Village",
            "assigned_to": "CHW",
            "client.birth_date": "Date of birth",
            "client.phone": "Phone",
            "client.language": "Language"
        },
        "defaults": { "district": D }
    })
}

const HEADER: &str = "Case no,Name,Village,CHW,Date of birth,Phone,Language\n";

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    csv: &str,
    dry_run: bool,
) -> Result<(u16, Value)> {
    let resp = http
        .post(format!("{url}/v1/cases/import/csv?dry_run={dry_run}"))
        .bearer_auth(token)
        .json(&json!({ "mapping": mapping(), "csv": csv }))
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or_default()))
}

async fn case_status(http: &reqwest::Client, url: &str, token: &str, id: &str) -> Result<u16> {
    Ok(http
        .get(format!("{url}/v1/cases/{id}"))
        .bearer_auth(token)
        .send()
        .await?
        .status()
        .as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_with_a_broken_line_is_refused_whole_and_the_fixed_one_reaches_the_phone(
) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let coord = UserSpec::new("coord", Role::Coordinator, D);
    let chw = UserSpec::new("chw1", Role::Chw, D);
    let server = ServerProc::start(&dir.path().join("server"), &[coord.clone(), chw.clone()])?;
    let url = server.url.clone();
    let http = http_client();
    let token = login(
        &http,
        &url,
        &coord.username,
        &coord.password,
        "coord-laptop",
    )
    .await?
    .access_token;
    let good = [
        "imp-1,রহিমা বেগম,গ্রাম পূর্ব,chw1,1990-04-02,+880 1711 000001,bn\n",
        "imp-2,زهرا حسینی,Hạ Long,chw1,,,fa\n",
        "imp-4,สมศรี ใจดี,บ้านนา,chw1,,,th\n",
    ];
    // Line 3 has a date in another format; line 5 a worker of no district of hers.
    let broken = format!(
        "{HEADER}{}{}imp-3,Nguyễn Thị Hoa,Làng,chw1,02/04/1990,,vi\n{}imp-5,Lê Văn An,Làng,nobody,,,vi\n",
        good[0], good[1], good[2]
    );

    let (status, report) = post(&http, &url, &token, &broken, true).await?;
    assert_eq!(status, 200, "{report}");
    let lines: Vec<u64> = report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p["line"].as_u64().expect("line"))
        .collect();
    assert_eq!(lines, vec![4, 6], "{report}");
    assert_eq!(report["rows"], 5);
    assert!(report["imported"].as_array().expect("ids").is_empty());

    let (status, body) = post(&http, &url, &token, &broken, false).await?;
    assert_eq!(status, 400, "{body}");
    let message = body.to_string();
    assert!(
        message.contains("line 4") && message.contains("line 6"),
        "{message}"
    );
    for id in ["imp-1", "imp-2", "imp-4"] {
        assert_eq!(
            case_status(&http, &url, &token, id).await?,
            404,
            "{id} stored"
        );
    }

    // A CHW cannot import.
    let chw_token = login(&http, &url, &chw.username, &chw.password, "chw-web")
        .await?
        .access_token;
    let fixed = format!("{HEADER}{}{}{}", good[0], good[1], good[2]);
    let (status, _) = post(&http, &url, &chw_token, &fixed, false).await?;
    assert_eq!(status, 403);

    let (status, report) = post(&http, &url, &token, &fixed, false).await?;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["imported"], json!(["imp-1", "imp-2", "imp-4"]));
    // Twice (a 2G retry of an answer that was lost): refused, nothing doubled.
    let (status, body) = post(&http, &url, &token, &fixed, false).await?;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("exists"), "{body}");

    let phone = Device::login(&url, dir.path(), &chw, "chw1-phone").await?;
    phone.sync().await?;
    let case = phone.case("imp-1")?;
    assert_eq!(case.client.name, "রহিমা বেগম");
    assert_eq!(case.created_by, "coord");
    assert_eq!(phone.case("imp-2")?.client.name, "زهرا حسینی");
    assert_eq!(phone.case("imp-4")?.client.language.as_deref(), Some("th"));

    let history: Value = http
        .get(format!("{url}/v1/cases/imp-2/history"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let first = &history[0];
    assert_eq!(first["server"]["user_id"], "coord", "{history}");
    Ok(())
}
