//! Administration while the server runs (issue #18): the CLI's `user` and `device`
//! commands with `--server` go through the admin API of the real server binary on
//! 127.0.0.1 (real sled store, which the server holds locked), and the API refuses
//! anyone but an administrator.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result};
use casesync_core::case::Role;
use casesync_core::sync::Step;
use casesync_tests::fixtures::new_case;
use casesync_tests::harness::*;

const D: &str = "sylhet";
const D2: &str = "খুলনা";

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| d.as_millis() as i64)
}

fn admin() -> UserSpec {
    let mut a = UserSpec::new("root", Role::Admin, D);
    a.districts.clear();
    a
}

/// `casesync-server <args> --server URL --admin root`, the admin password in the
/// environment, `stdin` on standard input.
fn cli(server: &ServerProc, args: &[&str], stdin: Option<&str>) -> Result<Output> {
    let a = admin();
    let mut cmd = Command::new(server_bin()?);
    cmd.args(args)
        .args(["--server", &server.url, "--admin", &a.username])
        .env("CASESYNC_ADMIN_PASSWORD", &a.password)
        // The server holds the store; the CLI must not need it.
        .env("CASESYNC_DATA", "/nonexistent/casesync-data")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    if let Some(mut input) = child.stdin.take() {
        if let Some(s) = stdin {
            writeln!(input, "{s}")?;
        }
    }
    Ok(child.wait_with_output()?)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "the command failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn login_status(
    url: &str,
    user: &str,
    password: &str,
    device: &str,
) -> Result<(u16, serde_json::Value)> {
    let resp = http_client()
        .post(format!("{url}/v1/auth/login"))
        .json(&serde_json::json!({"username": user, "password": password, "device_id": device}))
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or_default()))
}

/// (a) A lost phone revoked through the CLI on the running server is wiped at its next
/// sync, while a device of another user keeps syncing, and sees new work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_revoked_through_the_cli_is_wiped_while_others_keep_syncing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let chw1 = UserSpec::new("chw1", Role::Chw, D);
    let chw2 = UserSpec::new("chw2", Role::Chw, D);
    let server = ServerProc::start(
        &dir.path().join("server"),
        &[admin(), chw1.clone(), chw2.clone()],
    )?;
    let lost = Device::login(&server.url, dir.path(), &chw1, "phone-lost").await?;
    let other = Device::login(&server.url, dir.path(), &chw2, "phone-other").await?;
    lost.create(&new_case("c-1", D, "chw1", "রহিমা খাতুন", false), now_ms())?;
    lost.sync().await?;
    other.create(&new_case("c-2", D, "chw2", "مریم احمدی", false), now_ms())?;
    other.sync().await?;

    let listed = ok(&cli(&server, &["device", "list"], None)?);
    assert!(
        listed.contains("phone-lost") && listed.contains("phone-other"),
        "{listed}"
    );
    // The districts, through the running server too.
    let districts = ok(&cli(&server, &["district", "list"], None)?);
    let row = districts
        .lines()
        .find(|l| l.starts_with(D))
        .unwrap_or_default();
    assert!(row.contains("chw1") && row.contains("chw2"), "{districts}");
    let out = ok(&cli(&server, &["device", "revoke", "phone-lost"], None)?);
    assert!(out.contains("revoked"), "{out}");
    // Repeated (a retry on a bad link): the same outcome.
    ok(&cli(&server, &["device", "revoke", "phone-lost"], None)?);
    let missing = cli(&server, &["device", "revoke", "phone-none"], None)?;
    assert!(!missing.status.success(), "an unknown device is an error");

    let (progress, step) = lost.sync().await?;
    assert_eq!(step, Step::Wiped, "the revoked phone is told to wipe");
    assert_eq!(progress.wiped.map(|r| r.unsent_cases), Some(0));
    assert!(lost.store.case_ids()?.is_empty(), "its data is gone");

    other.edit("c-2", now_ms(), |doc, ctx| doc.set_village(ctx, "শ্রীমঙ্গল"))?;
    let (progress, step) = other.sync().await?;
    assert_eq!(step, Step::Done, "the other user's device keeps syncing");
    assert_eq!(progress.docs_pushed, 1);
    let again = Device::login(&server.url, &dir.path().join("2"), &chw2, "phone-other-2").await?;
    again.sync().await?;
    assert_eq!(again.case("c-2")?.village, "শ্রীমঙ্গল");
    let (status, body) = login_status(&server.url, "chw1", &chw1.password, "phone-lost").await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("device_revoked"))
    );
    Ok(())
}

/// (b) A password reset through the CLI: the old password is refused, the temporary
/// one answers `password_change_required`, and after the change a login works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_through_the_cli_must_be_changed_before_a_login() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let lan = UserSpec::new("lan", Role::Coordinator, "Huế");
    let server = ServerProc::start(&dir.path().join("server"), &[admin(), lan.clone()])?;
    let phone = Device::login(&server.url, dir.path(), &lan, "phone-lan").await?;
    let temp = "tạm-thời-2026";
    let out = ok(&cli(
        &server,
        &["user", "reset-password", "lan", "--password-stdin"],
        Some(temp),
    )?);
    assert!(out.contains("password reset"), "{out}");
    assert!(!out.contains(temp), "a given password is not printed");

    let (status, body) = login_status(&server.url, "lan", &lan.password, "phone-lan").await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("bad_credentials"))
    );
    let (status, body) = login_status(&server.url, "lan", temp, "phone-lan").await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("password_change_required"))
    );
    // The refresh token of before answers the same: the phone asks for the change.
    let refreshed = http_client()
        .post(format!("{}/v1/auth/refresh", server.url))
        .json(&serde_json::json!({"refresh_token": phone.refresh_token, "device_id": "phone-lan"}))
        .send()
        .await?;
    assert_eq!(refreshed.status().as_u16(), 403);
    let listed = ok(&cli(&server, &["user", "list"], None)?);
    let row = listed
        .lines()
        .find(|l| l.starts_with("lan "))
        .context("lan listed")?;
    assert!(row.contains("true"), "must change: {row}");

    let change = |old: &str, new: &str| {
        let body = serde_json::json!({"username": "lan", "old_password": old, "new_password": new});
        let url = format!("{}/v1/auth/password", server.url);
        async move {
            let r = http_client().post(url).json(&body).send().await?;
            anyhow::Ok((
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            ))
        }
    };
    let (status, body) = change(temp, "short").await?;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));
    let (status, _) = change(temp, temp).await?;
    assert_eq!(
        status, 400,
        "the new password differs from the temporary one"
    );
    let (status, _) = change("wrong-password", "mật-khẩu-mới-của-lan").await?;
    assert_eq!(status, 401);
    // The user changes it with the CLI (the app has no screen for it yet).
    let out = ok(&cli(
        &server,
        &["user", "change-password", "lan"],
        Some(&format!("{temp}\nmật-khẩu-mới-của-lan")),
    )?);
    assert!(out.contains("password changed"), "{out}");
    let (status, _) = change(temp, "mật-khẩu-mới-của-lan").await?;
    assert_eq!(status, 200, "a retry of the change succeeds again");

    let (status, _) = login_status(&server.url, "lan", temp, "phone-lan").await?;
    assert_eq!(status, 401, "the temporary password is spent");
    let (status, body) =
        login_status(&server.url, "lan", "mật-khẩu-mới-của-lan", "phone-lan").await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user_id"].as_str(), Some("lan"));
    Ok(())
}

/// (c) A token of anyone but an administrator gets 403 on every admin route, and
/// nothing changes; the CLI signed in as a non-admin is refused too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_admin_token_is_refused_and_changes_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let coord = UserSpec::new("coord", Role::Coordinator, D);
    let chw = UserSpec::new("chw1", Role::Chw, D);
    let server = ServerProc::start(
        &dir.path().join("server"),
        &[admin(), coord.clone(), chw.clone()],
    )?;
    let phone = Device::login(&server.url, dir.path(), &chw, "phone-chw").await?;
    let boss = Device::login(&server.url, dir.path(), &coord, "phone-coord").await?;
    let root = Device::login(&server.url, dir.path(), &admin(), "admin-laptop").await?;
    let http = http_client();
    let get = |token: String, path: &str| {
        let req = http.get(format!("{}{path}", server.url)).bearer_auth(token);
        async move { anyhow::Ok(req.send().await?.text().await?) }
    };
    let before = (
        get(root.token.clone(), "/v1/admin/users").await?,
        get(root.token.clone(), "/v1/admin/devices").await?,
    );
    // The administrator's district list: the one district, its coordinator and worker.
    let districts: serde_json::Value =
        serde_json::from_str(&get(root.token.clone(), "/v1/admin/districts").await?)?;
    assert_eq!(districts[0]["district"].as_str(), Some(D), "{districts}");
    assert_eq!(districts[0]["coordinators"], serde_json::json!(["coord"]));
    assert_eq!(districts[0]["chws"], serde_json::json!(["chw1"]));
    let attempts: Vec<(&str, serde_json::Value)> = vec![
        (
            "/v1/admin/users",
            serde_json::json!({"username": "intruder", "role": "admin", "password": "long-enough-1"}),
        ),
        (
            "/v1/admin/users/chw1",
            serde_json::json!({"districts": ["ঢাকা"], "disabled": true}),
        ),
        (
            "/v1/admin/users/root/password",
            serde_json::json!({"temporary_password": "taken-over-1"}),
        ),
        (
            "/v1/admin/devices/phone-coord/revoke",
            serde_json::json!({}),
        ),
    ];
    for token in [&phone.token, &boss.token] {
        for path in [
            "/v1/admin/users",
            "/v1/admin/devices",
            "/v1/admin/districts",
        ] {
            let r = http
                .get(format!("{}{path}", server.url))
                .bearer_auth(token)
                .send()
                .await?;
            assert_eq!(r.status().as_u16(), 403, "{path}");
            let body: serde_json::Value = r.json().await?;
            assert_eq!(body["code"].as_str(), Some("forbidden"));
        }
        for (path, body) in &attempts {
            let r = http
                .post(format!("{}{path}", server.url))
                .bearer_auth(token)
                .json(body)
                .send()
                .await?;
            assert_eq!(r.status().as_u16(), 403, "{path}");
        }
        let r = http
            .post(format!("{}/v1/admin/import/users", server.url))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body("user,role,districts,sensitive,password\nx,admin,,,long-enough-1\n")
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 403);
    }
    let r = http
        .get(format!("{}/v1/admin/users", server.url))
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 401, "no token");
    let after = (
        get(root.token.clone(), "/v1/admin/users").await?,
        get(root.token.clone(), "/v1/admin/devices").await?,
    );
    assert_eq!(before, after, "nothing changed");

    let mut cmd = Command::new(server_bin()?);
    let out = cmd
        .args(["user", "list", "--server", &server.url, "--admin", "coord"])
        .env("CASESYNC_ADMIN_PASSWORD", &coord.password)
        .output()?;
    assert!(
        !out.status.success(),
        "a coordinator cannot use the admin CLI"
    );
    // An admin body over the bound is refused before it is parsed.
    let big = format!("{{\"districts\":[\"{}\"]}}", "x".repeat(70 * 1024));
    let r = http
        .post(format!("{}/v1/admin/users/chw1", server.url))
        .bearer_auth(&root.token)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 413);
    Ok(())
}

/// Bulk import through the CLI on the running server: a file with a broken line 3 is
/// refused naming line 3 and stores nothing; the dry run lists every problem; the
/// mended file is stored and its users sign in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_with_a_broken_line_3_is_refused_and_stores_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = ServerProc::start(&dir.path().join("server"), &[admin()])?;
    let broken = format!(
        "user,role,districts,sensitive,password\n\
         nasrin,chw,{D};{D2},false,পাসওয়ার্ড-২০২৪\n\
         maryam,coordinator,تهران,maybe,گذرواژه-۱۴۰۳\n\
         somchai,chw,เชียงใหม่,,รหัสผ่าน-ยาว\n\
         lan,chw,Huế,,short\n"
    );
    let file = dir.path().join("staff.csv");
    std::fs::write(&file, &broken)?;
    let path = file.to_str().context("path")?;
    let users_before = ok(&cli(&server, &["user", "list"], None)?);

    let dry = cli(&server, &["user", "import", path, "--dry-run"], None)?;
    assert!(!dry.status.success(), "a dry run with problems fails");
    let listed = String::from_utf8_lossy(&dry.stdout);
    assert!(
        listed.contains("line 3:") && listed.contains("line 5:"),
        "{listed}"
    );
    assert!(
        !listed.contains("line 2:") && !listed.contains("line 4:"),
        "{listed}"
    );

    let real = cli(&server, &["user", "import", path], None)?;
    assert!(!real.status.success());
    let err = String::from_utf8_lossy(&real.stderr);
    assert!(err.contains("line 3:"), "{err}");
    assert!(
        !err.contains("گذرواژه"),
        "no password in the refusal: {err}"
    );
    assert_eq!(
        ok(&cli(&server, &["user", "list"], None)?),
        users_before,
        "no user stored"
    );

    let mended = broken
        .replace("maybe", "true")
        .replace(",short", ",mật-khẩu-dài");
    std::fs::write(&file, mended)?;
    let out = ok(&cli(&server, &["user", "import", path], None)?);
    assert!(out.contains("4 users imported"), "{out}");
    let (status, body) =
        login_status(&server.url, "maryam", "گذرواژه-۱۴۰۳", "phone-maryam").await?;
    assert_eq!(status, 200, "{body}");
    let listed = ok(&cli(&server, &["user", "list"], None)?);
    assert!(listed.contains(&format!("{D},{D2}")), "{listed}");
    Ok(())
}

/// (b') The same reset met on the phone (the FFI `CaseStore` over its HTTP transport):
/// login answers `auth.password_change_required`; a new password that breaks the rules
/// is refused on the phone before anything is sent; `change_password` changes it and
/// signs in; a repeat (its answer lost) succeeds again.
#[test]
fn a_phone_whose_password_was_reset_changes_it_and_signs_in() -> Result<()> {
    use casesync_ffi::{CaseStore, CasesyncError, TransportConfig};
    let dir = tempfile::tempdir()?;
    let mina = UserSpec::new("mina", Role::Chw, D2);
    let server = ServerProc::start(&dir.path().join("server"), &[admin(), mina.clone()])?;
    let temp = "মিনা-অস্থায়ী-2026";
    ok(&cli(
        &server,
        &["user", "reset-password", "mina", "--password-stdin"],
        Some(temp),
    )?);
    let phone = CaseStore::open(
        dir.path().join("phone").to_string_lossy().into_owned(),
        vec![7; 32],
        "phone-mina".into(),
    )?;
    phone
        .set_transport_config(TransportConfig {
            max_retries: 0,
            // The test server is plain HTTP on loopback.
            allow_insecure_http: true,
            ..TransportConfig::default()
        })
        .expect("transport settings");
    let url = server.url.clone();
    let err = phone
        .login(url.clone(), "mina".into(), temp.into())
        .expect_err("a reset password must be changed first");
    assert!(matches!(err, CasesyncError::Unauthorized { .. }), "{err:?}");
    assert_eq!(err.code(), "auth.password_change_required");

    let new = "নতুন-পাসওয়ার্ড-মিনা";
    for bad in ["short", temp] {
        let err = phone
            .change_password(url.clone(), "mina".into(), temp.into(), bad.into())
            .expect_err("refused on the phone");
        assert!(matches!(err, CasesyncError::Invalid { .. }), "{err:?}");
        assert_eq!(err.code(), "auth.password_rules");
        assert_eq!(err.detail().params["min_chars"], "8");
    }
    let listed = ok(&cli(&server, &["user", "list"], None)?);
    let row = listed
        .lines()
        .find(|l| l.starts_with("mina "))
        .context("mina listed")?;
    assert!(row.contains("true"), "nothing changed on the server: {row}");
    let err = phone
        .change_password(
            url.clone(),
            "mina".into(),
            "wrong-password".into(),
            new.into(),
        )
        .expect_err("a wrong current password");
    assert_eq!(err.code(), "auth.wrong_password");

    let session = phone.change_password(url.clone(), "mina".into(), temp.into(), new.into())?;
    assert_eq!(session.user_id, "mina");
    assert_eq!(phone.session().map(|s| s.user_id), Some("mina".into()));
    let again = phone.change_password(url.clone(), "mina".into(), temp.into(), new.into())?;
    assert_eq!(
        again.user_id, "mina",
        "a repeat after a lost answer succeeds"
    );
    let err = phone
        .login(url.clone(), "mina".into(), temp.into())
        .expect_err("the temporary password is spent");
    assert_eq!(err.code(), "auth.wrong_password");
    phone.login(url, "mina".into(), new.into())?;
    Ok(())
}
