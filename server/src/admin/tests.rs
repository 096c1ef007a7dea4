//! The admin acts' rules: every refusal leaves the store as it was; repeats are harmless.

use super::import::{import_users, MAX_IMPORT_BYTES, MAX_IMPORT_ROWS};
use super::*;
use crate::store::SledStorage;

const PW: &str = "mật-khẩu-tạm-1";

fn store() -> SledStorage {
    SledStorage::temporary().expect("store")
}

fn new_user(name: &str, role: Role, districts: &[&str]) -> NewUser {
    NewUser {
        username: name.into(),
        role,
        districts: districts.iter().map(|d| d.to_string()).collect(),
        sensitive_access: false,
        password: PW.into(),
        time_zone: None,
        agency: None,
    }
}

fn dump(s: &dyn Storage) -> crate::store::Dump {
    s.dump().expect("dump")
}

#[test]
fn a_chw_or_coordinator_needs_a_district_and_an_admin_does_not() {
    let s = store();
    let before = dump(&s);
    for role in [Role::Chw, Role::Coordinator] {
        let e = create_user(&s, &new_user("nasrin", role, &[])).expect_err("no district");
        assert!(matches!(e, AppError::BadRequest(_)), "{e}");
        let e = create_user(&s, &new_user("nasrin", role, &[" "])).expect_err("blank");
        assert!(matches!(e, AppError::BadRequest(_)), "{e}");
    }
    let too_many: Vec<String> = (0..=MAX_DISTRICTS_PER_USER)
        .map(|i| format!("জেলা-{i}"))
        .collect();
    let mut u = new_user("nasrin", Role::Coordinator, &[]);
    u.districts = too_many;
    assert!(create_user(&s, &u).is_err());
    assert_eq!(dump(&s), before, "refusals store nothing");
    let admin = create_user(&s, &new_user("root", Role::Admin, &[])).expect("admin");
    assert!(admin.created);
}

#[test]
fn passwords_and_usernames_follow_the_rules() {
    let s = store();
    let before = dump(&s);
    let mut u = new_user("somchai", Role::Chw, &["เชียงใหม่"]);
    u.password = "สั้น".into();
    assert!(create_user(&s, &u).is_err(), "too short");
    u.password = "x".repeat(crate::auth::MAX_PASSWORD_BYTES + 1);
    assert!(create_user(&s, &u).is_err(), "too long");
    u.password = "tab\there-long".into();
    assert!(create_user(&s, &u).is_err(), "control character");
    let mut u = new_user("সোমা", Role::Chw, &["সিলেট"]);
    u.password = PW.into();
    let e = create_user(&s, &u).expect_err("login names are ASCII");
    assert!(e.to_string().contains("username"), "{e}");
    assert_eq!(dump(&s), before);
}

#[test]
fn creating_the_same_user_twice_is_a_repeat_and_another_one_a_conflict() {
    let s = store();
    let u = new_user("maryam", Role::Coordinator, &["تهران", "تهران", "اصفهان"]);
    let first = create_user(&s, &u).expect("create");
    assert!(first.created);
    assert_eq!(
        first.user.districts,
        vec!["تهران", "اصفهان"],
        "deduplicated"
    );
    let again = create_user(&s, &u).expect("repeat");
    assert!(!again.created);
    let mut other = u.clone();
    other.password = "another-password".into();
    assert!(matches!(
        create_user(&s, &other),
        Err(AppError::Conflict(_))
    ));
}

#[test]
fn an_edit_is_checked_whole_before_anything_is_written() {
    let s = store();
    create_user(&s, &new_user("root", Role::Admin, &[])).expect("admin");
    create_user(&s, &new_user("lan", Role::Chw, &["Huế"])).expect("chw");
    let before = dump(&s);
    let bad = UserEdit {
        districts: Some(vec![]),
        sensitive_access: Some(true),
        disabled: Some(true),
        time_zone: Some("Asia/Ho_Chi_Minh".into()),
    };
    assert!(edit_user(&s, "lan", &bad, Some("root")).is_err());
    // A good scope with an unknown zone: the scope is not written either.
    let bad_zone = UserEdit {
        districts: Some(vec!["Đà Nẵng".into()]),
        time_zone: Some("Asia/Hanoi-City".into()),
        ..UserEdit::default()
    };
    assert!(matches!(
        edit_user(&s, "lan", &bad_zone, Some("root")),
        Err(AppError::BadRequest(_))
    ));
    let own = UserEdit {
        disabled: Some(true),
        ..UserEdit::default()
    };
    assert!(matches!(
        edit_user(&s, "root", &own, Some("root")),
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        edit_user(&s, "nobody", &UserEdit::default(), Some("root")),
        Err(AppError::NotFound)
    ));
    assert_eq!(dump(&s), before, "nothing written");
    // An edit equal to what is stored writes nothing either.
    let same = UserEdit {
        districts: Some(vec!["Huế".into()]),
        sensitive_access: Some(false),
        disabled: Some(false),
        time_zone: Some(String::new()),
    };
    edit_user(&s, "lan", &same, Some("root")).expect("same");
    assert_eq!(dump(&s), before);
    let moved = UserEdit {
        districts: Some(vec!["Đà Nẵng".into()]),
        ..UserEdit::default()
    };
    let v = edit_user(&s, "lan", &moved, Some("root")).expect("moved");
    assert_eq!(v.districts, vec!["Đà Nẵng"]);
    let v = edit_user(&s, "lan", &own, Some("root")).expect("disable");
    assert!(v.disabled);
    let v = edit_user(&s, "lan", &own, Some("root")).expect("disable again");
    assert!(v.disabled);
}

#[test]
fn a_reset_sets_a_temporary_password_the_user_must_change() {
    let s = store();
    create_user(&s, &new_user("lan", Role::Chw, &["Huế"])).expect("chw");
    let before = dump(&s);
    assert!(reset_password(&s, "lan", "short").is_err());
    assert!(matches!(
        reset_password(&s, "nobody", "temporary-1"),
        Err(AppError::NotFound)
    ));
    assert_eq!(dump(&s), before);
    let v = reset_password(&s, "lan", "tạm-thời-2026").expect("reset");
    assert!(v.must_change_password);
    let u = s.user("lan").expect("read").expect("user");
    assert!(crate::auth::verify_password(
        "tạm-thời-2026",
        &u.password_hash
    ));
    assert!(!crate::auth::verify_password(PW, &u.password_hash));
}

fn device(s: &dyn Storage, id: &str, user: &str) {
    s.put_device(&DeviceRecord {
        device_id: id.into(),
        user_id: user.into(),
        revoked: false,
        refresh_hash: Some([3; 32]),
        refresh_expires_ms: i64::MAX,
        refresh_family: "f".into(),
        used_refresh: vec![],
        created_ms: 1,
        last_sync_ms: None,
        rotated_hash: None,
        rotated_ms: 0,
        family_revoked_ms: 0,
    })
    .expect("device");
}

#[test]
fn revoking_is_idempotent_and_un_revoking_needs_an_enabled_user() {
    let s = store();
    create_user(&s, &new_user("lan", Role::Chw, &["Huế"])).expect("chw");
    device(&s, "phone-1", "lan");
    assert!(matches!(
        revoke_device(&s, "phone-9"),
        Err(AppError::NotFound)
    ));
    let v = revoke_device(&s, "phone-1").expect("revoke");
    assert!(v.revoked);
    let stored = dump(&s);
    assert!(revoke_device(&s, "phone-1").expect("again").revoked);
    assert_eq!(dump(&s), stored, "a repeat writes nothing");
    assert!(s
        .device("phone-1")
        .expect("d")
        .expect("d")
        .refresh_hash
        .is_none());

    let off = UserEdit {
        disabled: Some(true),
        ..UserEdit::default()
    };
    edit_user(&s, "lan", &off, None).expect("disable");
    let before = dump(&s);
    assert!(matches!(
        unrevoke_device(&s, "phone-1"),
        Err(AppError::Conflict(_))
    ));
    assert_eq!(dump(&s), before);
    let on = UserEdit {
        disabled: Some(false),
        ..UserEdit::default()
    };
    edit_user(&s, "lan", &on, None).expect("enable");
    assert!(!unrevoke_device(&s, "phone-1").expect("unrevoke").revoked);
    assert!(!unrevoke_device(&s, "phone-1").expect("again").revoked);
}

const HEADER: &str = "user,role,districts,sensitive,password\n";

#[test]
fn an_import_with_a_broken_line_is_refused_naming_it_and_stores_nothing() {
    let s = store();
    let before = dump(&s);
    let csv = format!(
        "{HEADER}nasrin,chw,সিলেট;মৌলভীবাজার,false,পাসওয়ার্ড-২০২৪\n\
         maryam,coordinator,\"تهران\",ja,گذرواژه-۱۴۰۳\n\
         somchai,chw,เชียงใหม่,,รหัสผ่าน-ยาว\n\
         lan,chw,,false,mật-khẩu-dài\n"
    );
    let dry = import_users(&s, csv.as_bytes(), true).expect("dry run");
    assert_eq!(dry.rows, 4);
    let lines: Vec<u64> = dry.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![3, 5], "{:?}", dry.problems);
    assert!(dry.problems[0].message.contains("sensitive"));
    assert!(dry.problems[1].message.contains("district"));
    assert!(dry.created.is_empty());
    let e = import_users(&s, csv.as_bytes(), false).expect_err("refused");
    let msg = e.to_string();
    assert!(msg.contains("line 3:") && msg.contains("line 5:"), "{msg}");
    assert!(!msg.contains("گذرواژه"), "no password in a message: {msg}");
    assert_eq!(dump(&s), before, "nothing stored");
}

#[test]
fn a_clean_import_stores_every_user_and_a_repeat_finds_them() {
    let s = store();
    let csv = format!(
        "\u{feff}{HEADER}nasrin,chw,সিলেট,false,পাসওয়ার্ড-২০২৪\n\
         maryam,coordinator,تهران;اصفهان,true,گذرواژه-۱۴۰۳\n\
         somchai,CHW,เชียงใหม่,,รหัสผ่าน-ยาว\n\
         lan,admin,,no,mật-khẩu-dài"
    );
    let r = import_users(&s, csv.as_bytes(), false).expect("import");
    assert_eq!(r.created, vec!["nasrin", "maryam", "somchai", "lan"]);
    let maryam = s.user("maryam").expect("read").expect("stored");
    assert_eq!(maryam.districts, vec!["تهران", "اصفهان"]);
    assert!(maryam.sensitive_access);
    assert!(crate::auth::verify_password(
        "گذرواژه-۱۴۰۳",
        &maryam.password_hash
    ));
    let again = import_users(&s, csv.as_bytes(), true).expect("dry");
    assert_eq!(again.problem_count, 4, "every user exists now");
}

#[test]
fn an_import_is_bounded_before_it_is_parsed() {
    let s = store();
    let big = vec![b'a'; MAX_IMPORT_BYTES + 1];
    assert!(matches!(
        import_users(&s, &big, true),
        Err(AppError::PayloadTooLarge(_))
    ));
    let many = format!("{HEADER}{}", "x\n".repeat(MAX_IMPORT_ROWS + 1));
    assert!(import_users(&s, many.as_bytes(), true).is_err());
    let no_header = "user,role,password\nnasrin,chw,x\n";
    let e = import_users(&s, no_header.as_bytes(), true).expect_err("header");
    assert!(e.to_string().contains("line 1"), "{e}");
    let dup =
        format!("{HEADER}nasrin,chw,সিলেট,,pw-long-enough\nNasrin,chw,সিলেট,,pw-long-enough\n");
    let r = import_users(&s, dup.as_bytes(), true).expect("dry");
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].line, 3);
}

#[test]
fn districts_are_listed_with_their_staff_and_follow_a_move() {
    let s = store();
    create_user(&s, &new_user("root", Role::Admin, &[])).expect("admin");
    create_user(
        &s,
        &new_user("rahima", Role::Coordinator, &["ভোলা", "লালমোহন"]),
    )
    .expect("coord");
    create_user(&s, &new_user("karim", Role::Chw, &["ভোলা"])).expect("chw");
    create_user(&s, &new_user("lan", Role::Chw, &["Huế"])).expect("chw");
    crate::agencies::put_agency(
        &s,
        &casesync_core::protocol::Agency {
            id: "brac-legal".into(),
            names: [("bn".to_owned(), "আইনি সহায়তা".to_owned())].into(),
            services: vec![casesync_core::case::ReferralService::Legal],
            districts: vec!["ভোলা".into()],
            disabled: false,
        },
    )
    .expect("agency");
    let names = |v: &[DistrictView]| v.iter().map(|d| d.district.clone()).collect::<Vec<_>>();
    let listed = list_districts(&s).expect("districts");
    assert_eq!(names(&listed), ["Huế", "ভোলা", "লালমোহন"]);
    let bhola = &listed[1];
    assert_eq!(bhola.coordinators, ["rahima"]);
    assert_eq!(bhola.chws, ["karim"]);
    assert_eq!(bhola.agencies, ["brac-legal"]);
    // Moving the only worker of Huế elsewhere and disabling karim: Huế is gone, karim
    // is listed as disabled.
    let move_lan = UserEdit {
        districts: Some(vec!["লালমোহন".into()]),
        ..UserEdit::default()
    };
    edit_user(&s, "lan", &move_lan, Some("root")).expect("move");
    let disable = UserEdit {
        disabled: Some(true),
        ..UserEdit::default()
    };
    edit_user(&s, "karim", &disable, Some("root")).expect("disable");
    let listed = list_districts(&s).expect("districts");
    assert_eq!(names(&listed), ["ভোলা", "লালমোহন"]);
    assert!(listed[0].chws.is_empty());
    assert_eq!(listed[0].disabled_users, ["karim"]);
    assert_eq!(listed[1].chws, ["lan"]);
}
