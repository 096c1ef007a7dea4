//! The accounts the devices log in as: the benchmark's own users, the caseload import,
//! and the logins.

use super::*;

/// One account the devices log in as.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) role: Role,
}

/// The users of a server this bench starts: coordinators first, then workers.
pub(crate) fn own_users(args: &Args) -> Vec<UserSpec> {
    let districts = args.coordinators.max(1);
    let mut users = Vec::new();
    for c in 0..args.coordinators {
        let mut u = UserSpec::new(
            &format!("load-coord-{c:02}"),
            Role::Coordinator,
            &format!("load-d{c:02}"),
        );
        u.sensitive_access = true;
        users.push(u);
    }
    for w in 0..args.chws.max(1) {
        users.push(UserSpec::new(
            &format!("load-chw-{w:03}"),
            Role::Chw,
            &format!("load-d{:02}", w % districts),
        ));
    }
    users
}

/// Imports `per_chw` caseload cases for every worker, through their district's coordinator.
pub(crate) async fn import_cases(
    source: &CaseloadSource,
    http: &reqwest::Client,
    url: &str,
    users: &[UserSpec],
    per_chw: usize,
) -> Result<usize> {
    let chws: Vec<&UserSpec> = users.iter().filter(|u| u.role == Role::Chw).collect();
    let records = source.load(chws.len() * per_chw)?;
    let mut total = 0;
    for coord in users.iter().filter(|u| u.role == Role::Coordinator) {
        let district = &coord.districts[0];
        let mut cases = Vec::new();
        for (i, chw) in chws.iter().enumerate() {
            if &chw.districts[0] != district {
                continue;
            }
            for b in records.iter().skip(i * per_chw).take(per_chw) {
                let mut case = to_case(b, district);
                case.assigned_to = chw.username.clone();
                cases.push(case);
            }
        }
        let l = login(
            http,
            url,
            &coord.username,
            &coord.password,
            &format!("load-import-{}", coord.username),
        )
        .await?;
        casesync_tests::harness::import_cases(http, url, &l.access_token, &cases, IMPORT_BATCH)
            .await?;
        total += cases.len();
    }
    Ok(total)
}

/// The account of device `i`: one in [`COORDINATOR_EVERY`] is a coordinator's.
pub(crate) fn account_for(i: usize, accounts: &[Account]) -> &Account {
    let coords: Vec<&Account> = accounts
        .iter()
        .filter(|a| a.role == Role::Coordinator)
        .collect();
    let chws: Vec<&Account> = accounts
        .iter()
        .filter(|a| a.role != Role::Coordinator)
        .collect();
    if chws.is_empty() || (!coords.is_empty() && i % COORDINATOR_EVERY == COORDINATOR_EVERY - 1) {
        coords[(i / COORDINATOR_EVERY) % coords.len()]
    } else {
        chws[i % chws.len()]
    }
}

/// Logs one device in; the answer says the user's role.
pub(crate) async fn login_with_role(
    http: &reqwest::Client,
    url: &str,
    acc: &Account,
    device_id: &str,
) -> Result<TokenResponse> {
    let resp = http
        .post(format!("{url}/v1/auth/login"))
        .json(&LoginRequest {
            username: acc.username.clone(),
            password: acc.password.clone(),
            device_id: device_id.to_owned(),
        })
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!(
            "login of {device_id} as {} failed: {} {}",
            acc.username,
            resp.status(),
            resp.text().await.unwrap_or_default()
        );
    }
    Ok(resp.json().await?)
}

/// Logs every device in (bounded parallelism).
pub(crate) async fn login_devices(
    http: &reqwest::Client,
    url: &str,
    accounts: &[Account],
    n: usize,
) -> Result<Vec<LoadDevice>> {
    let stamp = std::process::id();
    let gate = Arc::new(Semaphore::new(LOGIN_PARALLELISM));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let acc = account_for(i, accounts).clone();
        let (http, url, gate) = (http.clone(), url.to_owned(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let device_id = format!("load-{stamp}-{i:04}");
            let l = login_with_role(&http, &url, &acc, &device_id).await?;
            let role = l.role;
            Ok::<_, anyhow::Error>(LoadDevice {
                device_id,
                user: acc.username,
                role,
                token: l.access_token,
                store: DeviceStore::in_memory(&test_key()),
                editable: Vec::new(),
                wire: Mutex::default(),
            })
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}
