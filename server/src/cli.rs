//! The `user` and `device` commands. With `--server URL` they go through the admin API of
//! that running server ([`remote`]), signed in as `--admin` (password from the
//! environment variable `CASESYNC_ADMIN_PASSWORD` or the first line of
//! `--admin-password-file`, never from the command line); without it they open the store
//! directly, as when no server runs. Either way every act is one of
//! `casesync_server::admin`, so both paths follow the same rules.

mod remote;

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use casesync_core::case::Role;
use casesync_core::protocol::Agency;
use casesync_server::admin::import::{self, ImportReport};
use casesync_server::admin::{self, Created, DeviceView, NewUser, UserEdit, UserView};
use casesync_server::agencies::PutAgency;
use casesync_server::config::StoreLocation;
use casesync_server::store::Storage;
use clap::{Args, Subcommand, ValueEnum};
use rand::Rng;

/// Characters of a generated temporary password (no look-alikes: 0/O, 1/l/I).
const TEMP_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Length of a generated temporary password.
const TEMP_LEN: usize = 12;

/// Where the commands act: a running server, or the store.
#[derive(Debug, Args)]
pub struct Target {
    /// Base URL of a running server (e.g. `http://127.0.0.1:8080`): act through its
    /// admin API instead of opening the store (which the server holds).
    #[arg(long, global = true, env = "CASESYNC_SERVER_URL")]
    server: Option<String>,
    /// With --server: the administrator to sign in as. The password comes from the
    /// environment variable CASESYNC_ADMIN_PASSWORD or --admin-password-file.
    #[arg(long, global = true, env = "CASESYNC_ADMIN")]
    admin: Option<String>,
    /// With --server: a file whose first line is the administrator's password.
    #[arg(long, global = true)]
    admin_password_file: Option<PathBuf>,
}

/// `casesync-server user ...`.
#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    cmd: UserCmd,
}

/// `casesync-server agency ...`.
#[derive(Debug, Args)]
pub struct AgencyArgs {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    cmd: AgencyCmd,
}

#[derive(Debug, Subcommand)]
enum AgencyCmd {
    /// Add an agency to the directory, or replace the one of that id.
    Put {
        /// Id (1 to 64 of A-Z a-z 0-9 _ -): what referrals name.
        id: String,
        /// A name in one language, `lang=name` (repeatable; at least one).
        #[arg(long = "name", required = true)]
        names: Vec<String>,
        /// A service it offers (repeatable; none: any): health, psychosocial, legal,
        /// housing, education, livelihood, other.
        #[arg(long = "service")]
        services: Vec<String>,
        /// A district it serves (repeatable).
        #[arg(long = "district")]
        districts: Vec<String>,
        /// No longer taking referrals.
        #[arg(long)]
        disabled: bool,
    },
    /// List the directory.
    List,
}

/// `casesync-server district ...`.
#[derive(Debug, Args)]
pub struct DistrictArgs {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    cmd: DistrictCmd,
}

#[derive(Debug, Subcommand)]
enum DistrictCmd {
    /// List every district a user or an agency names, with its coordinators, health
    /// workers, disabled users and agencies (a district is a code: it is opened by giving
    /// users its code, `user set-districts`).
    List,
}

/// `casesync-server device ...`.
#[derive(Debug, Args)]
pub struct DeviceArgs {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    cmd: DeviceCmd,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Chw,
    Coordinator,
    Admin,
    Agency,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Chw => Role::Chw,
            RoleArg::Coordinator => Role::Coordinator,
            RoleArg::Admin => Role::Admin,
            RoleArg::Agency => Role::Agency,
        }
    }
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Add a user.
    Add {
        /// Login name (also the user id).
        username: String,
        /// Role.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// District (repeatable).
        #[arg(long = "district")]
        districts: Vec<String>,
        /// Coordinators: may see sensitive cases.
        #[arg(long)]
        sensitive_access: bool,
        /// Read the password from the first line of standard input.
        #[arg(long, conflicts_with = "password")]
        password_stdin: bool,
        /// The password (visible in the process list: prefer --password-stdin).
        #[arg(long)]
        password: Option<String>,
        /// The user's own time zone for the dashboard (an IANA name such as
        /// Asia/Tehran); without it, the deployment's.
        #[arg(long)]
        time_zone: Option<String>,
        /// Agency staff (`--role agency`): their agency's id in the directory.
        #[arg(long)]
        agency: Option<String>,
    },
    /// List users.
    List,
    /// Disable a user: no more logins; every device of theirs is revoked and told to
    /// wipe at its next contact.
    Disable {
        /// Login name.
        username: String,
    },
    /// Enable a disabled user again (their devices stay revoked: un-revoke the ones
    /// found, or they sign in on new ones).
    Enable {
        /// Login name.
        username: String,
    },
    /// Replace a user's districts (cases of a district taken away leave their devices
    /// at the next sync, after the edits made there before are acknowledged).
    SetDistricts {
        /// Login name.
        username: String,
        /// District (repeatable).
        #[arg(long = "district", required = true)]
        districts: Vec<String>,
    },
    /// Grant (`true`) or take away (`false`) a coordinator's sensitive access (taken
    /// away: the sensitive cases leave their devices at the next sync).
    SetSensitive {
        /// Login name.
        username: String,
        /// Sensitive access from now on.
        #[arg(action = clap::ArgAction::Set)]
        access: bool,
    },
    /// Set the time zone a user's dashboard shows times in (an IANA name such as
    /// Asia/Dhaka); an empty name goes back to the deployment's.
    SetTimeZone {
        /// Login name.
        username: String,
        /// IANA time zone name, or "" for the deployment's.
        zone: String,
    },
    /// Set a temporary password (forgotten password): the old one stops working; the
    /// user must change the temporary one at the next login. Without
    /// --password-stdin a random one is made and printed.
    ResetPassword {
        /// Login name.
        username: String,
        /// Read the temporary password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// A user changes their own password on a running server (after a reset: the
    /// temporary one, then the new one, each on its own line of standard input). Needs
    /// --server, not --admin.
    ChangePassword {
        /// Login name.
        username: String,
    },
    /// Add users from a CSV file: a header row `user,role,districts,sensitive,password`
    /// (districts `;`-separated), one user a line. Any problem refuses the whole file.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Only check the file: list every problem by line number, store nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCmd {
    /// List devices.
    List,
    /// Revoke a device (lost phone): it is told to wipe at its next sync.
    Revoke {
        /// Device id.
        device_id: String,
    },
    /// Un-revoke a device (the phone was found): its user may sign in on it again.
    Unrevoke {
        /// Device id.
        device_id: String,
    },
}

/// The store or a running server's admin API: the same acts either way.
enum Admin {
    Store(Arc<dyn Storage>),
    Server(remote::Client),
}

fn err(e: casesync_server::error::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

impl Admin {
    fn open(at: &StoreLocation, t: &Target) -> anyhow::Result<Self> {
        match &t.server {
            None => Ok(Admin::Store(crate::open(at)?)),
            Some(url) => {
                let name = t
                    .admin
                    .as_deref()
                    .context("--server needs --admin (the administrator to sign in as)")?;
                let password = admin_password(t)?;
                Ok(Admin::Server(remote::Client::login(url, name, &password)?))
            }
        }
    }

    fn users(&self) -> anyhow::Result<Vec<UserView>> {
        match self {
            Admin::Store(s) => admin::list_users(s.as_ref()).map_err(err),
            Admin::Server(c) => c.get("/v1/admin/users"),
        }
    }

    fn create(&self, new: &NewUser) -> anyhow::Result<Created> {
        match self {
            Admin::Store(s) => admin::create_user(s.as_ref(), new).map_err(err),
            Admin::Server(c) => c.post_json("/v1/admin/users", new),
        }
    }

    fn edit(&self, username: &str, edit: &UserEdit) -> anyhow::Result<UserView> {
        match self {
            Admin::Store(s) => admin::edit_user(s.as_ref(), username, edit, None).map_err(err),
            Admin::Server(c) => c.post_json(&format!("/v1/admin/users/{}", path(username)), edit),
        }
    }

    fn reset(&self, username: &str, temporary: &str) -> anyhow::Result<UserView> {
        match self {
            Admin::Store(s) => admin::reset_password(s.as_ref(), username, temporary).map_err(err),
            Admin::Server(c) => c.post_json(
                &format!("/v1/admin/users/{}/password", path(username)),
                &admin::PasswordReset {
                    temporary_password: temporary.to_owned(),
                },
            ),
        }
    }

    fn agencies(&self) -> anyhow::Result<Vec<Agency>> {
        match self {
            Admin::Store(s) => {
                casesync_server::agencies::list(s.as_ref()).map_err(|e| anyhow::anyhow!("{e}"))
            }
            Admin::Server(c) => c.get("/v1/admin/agencies"),
        }
    }

    fn put_agency(&self, a: &Agency) -> anyhow::Result<PutAgency> {
        match self {
            Admin::Store(s) => casesync_server::agencies::put_agency(s.as_ref(), a).map_err(err),
            Admin::Server(c) => c.post_json("/v1/admin/agencies", a),
        }
    }

    fn districts(&self) -> anyhow::Result<Vec<admin::DistrictView>> {
        match self {
            Admin::Store(s) => admin::list_districts(s.as_ref()).map_err(err),
            Admin::Server(c) => c.get("/v1/admin/districts"),
        }
    }

    fn devices(&self) -> anyhow::Result<Vec<DeviceView>> {
        match self {
            Admin::Store(s) => admin::list_devices(s.as_ref()).map_err(err),
            Admin::Server(c) => c.get("/v1/admin/devices"),
        }
    }

    fn revoke(&self, device_id: &str, revoke: bool) -> anyhow::Result<DeviceView> {
        match (self, revoke) {
            (Admin::Store(s), true) => admin::revoke_device(s.as_ref(), device_id).map_err(err),
            (Admin::Store(s), false) => admin::unrevoke_device(s.as_ref(), device_id).map_err(err),
            (Admin::Server(c), r) => c.post_empty(&format!(
                "/v1/admin/devices/{}/{}",
                path(device_id),
                if r { "revoke" } else { "unrevoke" }
            )),
        }
    }

    fn import(&self, csv: &[u8], dry_run: bool) -> anyhow::Result<ImportReport> {
        match self {
            Admin::Store(s) => import::import_users(s.as_ref(), csv, dry_run).map_err(err),
            Admin::Server(c) => {
                c.post_csv(&format!("/v1/admin/import/users?dry_run={dry_run}"), csv)
            }
        }
    }
}

/// A path segment, percent-encoded (every byte but unreserved ones).
fn path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The administrator's password: `CASESYNC_ADMIN_PASSWORD`, or the first line of
/// `--admin-password-file`.
fn admin_password(t: &Target) -> anyhow::Result<String> {
    if let Some(file) = &t.admin_password_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("--admin-password-file {}", file.display()))?;
        let line = text.lines().next().unwrap_or("").to_owned();
        if line.is_empty() {
            bail!(
                "--admin-password-file {}: the first line is empty",
                file.display()
            );
        }
        return Ok(line);
    }
    match std::env::var("CASESYNC_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => Ok(p),
        _ => bail!(
            "--server needs the administrator's password: set CASESYNC_ADMIN_PASSWORD or give --admin-password-file"
        ),
    }
}

fn stdin_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn temporary_password() -> String {
    let mut rng = rand::thread_rng();
    (0..TEMP_LEN)
        .map(|_| char::from(TEMP_ALPHABET[rng.gen_range(0..TEMP_ALPHABET.len())]))
        .collect()
}

fn fmt_ms(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// `casesync-server user ...`.
pub fn run_user(at: &StoreLocation, args: UserArgs) -> anyhow::Result<()> {
    if let UserCmd::ChangePassword { username } = &args.cmd {
        let url = args
            .target
            .server
            .as_deref()
            .context("change-password needs --server (the running server)")?;
        let old = stdin_line()?;
        let new = stdin_line()?;
        remote::change_password(url, username, &old, &new)?;
        println!("user {username}: password changed");
        return Ok(());
    }
    let admin = Admin::open(at, &args.target)?;
    match args.cmd {
        UserCmd::Add {
            username,
            role,
            districts,
            sensitive_access,
            password_stdin,
            password,
            time_zone,
            agency,
        } => {
            let password = match (password_stdin, password) {
                (true, _) => stdin_line()?,
                (false, Some(p)) => p,
                (false, None) => bail!("give --password-stdin or --password"),
            };
            let new = NewUser {
                username: username.clone(),
                role: role.into(),
                districts,
                sensitive_access,
                password,
                time_zone,
                agency,
            };
            let c = admin.create(&new)?;
            if c.created {
                println!("user {username} added ({})", c.user.role);
            } else {
                println!("user {username} exists already as given; nothing changed");
            }
        }
        UserCmd::List => {
            println!(
                "{:<20} {:<12} {:<9} {:<9} {:<11} {:<20} districts",
                "user", "role", "sensitive", "disabled", "must-change", "time-zone"
            );
            for u in admin.users()? {
                println!(
                    "{:<20} {:<12} {:<9} {:<9} {:<11} {:<20} {}",
                    u.user_id,
                    u.role.as_str(),
                    u.sensitive_access,
                    u.disabled,
                    u.must_change_password,
                    u.time_zone.as_deref().unwrap_or("-"),
                    u.districts.join(",")
                );
            }
        }
        UserCmd::Disable { username } => {
            let edit = UserEdit {
                disabled: Some(true),
                ..UserEdit::default()
            };
            admin
                .edit(&username, &edit)
                .with_context(|| format!("user {username}"))?;
            println!("user {username} disabled; their devices will be told to wipe");
        }
        UserCmd::Enable { username } => {
            let edit = UserEdit {
                disabled: Some(false),
                ..UserEdit::default()
            };
            admin
                .edit(&username, &edit)
                .with_context(|| format!("user {username}"))?;
            println!("user {username} enabled");
        }
        UserCmd::SetDistricts {
            username,
            districts,
        } => {
            let edit = UserEdit {
                districts: Some(districts),
                ..UserEdit::default()
            };
            let u = admin
                .edit(&username, &edit)
                .with_context(|| format!("user {username}"))?;
            println!("user {username}: districts {}", u.districts.join(","));
        }
        UserCmd::SetSensitive { username, access } => {
            let edit = UserEdit {
                sensitive_access: Some(access),
                ..UserEdit::default()
            };
            admin
                .edit(&username, &edit)
                .with_context(|| format!("user {username}"))?;
            println!("user {username}: sensitive access {access}");
        }
        UserCmd::SetTimeZone { username, zone } => {
            let edit = UserEdit {
                time_zone: Some(zone),
                ..UserEdit::default()
            };
            let u = admin
                .edit(&username, &edit)
                .with_context(|| format!("user {username}"))?;
            let shown = u.time_zone.as_deref().unwrap_or("the deployment's");
            println!("user {username}: time zone {shown}");
        }
        UserCmd::ResetPassword {
            username,
            password_stdin,
        } => {
            let (temporary, made) = if password_stdin {
                (stdin_line()?, false)
            } else {
                (temporary_password(), true)
            };
            admin
                .reset(&username, &temporary)
                .with_context(|| format!("user {username}"))?;
            if made {
                println!("user {username}: temporary password {temporary}");
            }
            println!("user {username}: password reset; they must change it at their next login");
        }
        UserCmd::ChangePassword { .. } => {}
        UserCmd::Import { file, dry_run } => {
            let meta = std::fs::metadata(&file).with_context(|| file.display().to_string())?;
            if meta.len() > import::MAX_IMPORT_BYTES as u64 {
                bail!(
                    "{}: over {} bytes; split it",
                    file.display(),
                    import::MAX_IMPORT_BYTES
                );
            }
            let csv = std::fs::read(&file).with_context(|| file.display().to_string())?;
            let report = admin.import(&csv, dry_run)?;
            if dry_run {
                println!(
                    "{}: {} users, {} problems",
                    file.display(),
                    report.rows,
                    report.problem_count
                );
                if report.problem_count > 0 {
                    println!("{}", report.problems_text());
                    bail!("the file has problems; nothing was stored");
                }
            } else {
                println!("{} users imported", report.created.len());
            }
        }
    }
    Ok(())
}

/// `casesync-server district ...`.
pub fn run_district(at: &StoreLocation, args: DistrictArgs) -> anyhow::Result<()> {
    let admin = Admin::open(at, &args.target)?;
    match args.cmd {
        DistrictCmd::List => {
            println!(
                "{:<24} {:<24} {:<30} {:<20} disabled users",
                "district", "coordinators", "health workers", "agencies"
            );
            for d in admin.districts()? {
                println!(
                    "{:<24} {:<24} {:<30} {:<20} {}",
                    d.district,
                    d.coordinators.join(","),
                    d.chws.join(","),
                    d.agencies.join(","),
                    d.disabled_users.join(",")
                );
            }
        }
    }
    Ok(())
}

/// `casesync-server device ...`.
pub fn run_device(at: &StoreLocation, args: DeviceArgs) -> anyhow::Result<()> {
    let admin = Admin::open(at, &args.target)?;
    match args.cmd {
        DeviceCmd::List => {
            println!(
                "{:<40} {:<20} {:<8} {:<20} last sync",
                "device", "user", "revoked", "first login"
            );
            for d in admin.devices()? {
                println!(
                    "{:<40} {:<20} {:<8} {:<20} {}",
                    d.device_id,
                    d.user_id,
                    d.revoked,
                    fmt_ms(Some(d.created_ms)),
                    fmt_ms(d.last_sync_ms)
                );
            }
        }
        DeviceCmd::Revoke { device_id } => {
            admin
                .revoke(&device_id, true)
                .with_context(|| format!("device {device_id}"))?;
            println!("device {device_id} revoked; it will be told to wipe at its next sync");
        }
        DeviceCmd::Unrevoke { device_id } => {
            admin
                .revoke(&device_id, false)
                .with_context(|| format!("device {device_id}"))?;
            println!("device {device_id} un-revoked; its user may sign in on it again");
        }
    }
    Ok(())
}

/// `casesync-server agency ...`.
pub fn run_agency(at: &StoreLocation, args: AgencyArgs) -> anyhow::Result<()> {
    let admin = Admin::open(at, &args.target)?;
    match args.cmd {
        AgencyCmd::Put {
            id,
            names,
            services,
            districts,
            disabled,
        } => {
            let mut by_lang = std::collections::BTreeMap::new();
            for n in names {
                let (lang, name) = n
                    .split_once('=')
                    .with_context(|| format!("--name {n}: give lang=name"))?;
                by_lang.insert(lang.trim().to_owned(), name.trim().to_owned());
            }
            let mut svc = Vec::new();
            for s in services {
                svc.push(
                    casesync_core::case::ReferralService::parse(&s)
                        .with_context(|| format!("--service {s}: unknown service"))?,
                );
            }
            let a = Agency {
                id: id.clone(),
                names: by_lang,
                services: svc,
                districts,
                disabled,
            };
            let put = admin.put_agency(&a)?;
            if put.created {
                println!("agency {id} added");
            } else {
                println!("agency {id} stored as given");
            }
        }
        AgencyCmd::List => {
            println!(
                "{:<24} {:<9} {:<30} {:<30} names",
                "agency", "disabled", "services", "districts"
            );
            for a in admin.agencies()? {
                let services: Vec<&str> = a.services.iter().map(|s| s.as_str()).collect();
                let names: Vec<String> = a.names.iter().map(|(l, n)| format!("{l}={n}")).collect();
                println!(
                    "{:<24} {:<9} {:<30} {:<30} {}",
                    a.id,
                    a.disabled,
                    services.join(","),
                    a.districts.join(","),
                    names.join("; ")
                );
            }
        }
    }
    Ok(())
}
