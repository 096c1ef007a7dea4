//! The device scenario the end-to-end tests share, on one server (`e2e_sync`) and on
//! several instances of one database (`multi_instance`): two CHWs and a coordinator
//! create cases, edit one offline at the same time (the same note, other fields, a
//! reassignment) and sync until every copy agrees. Only how a device syncs differs: the
//! caller says, for each [`Turn`].

use anyhow::Result;
use casesync_core::case::{AssessmentUpdate, ClientUpdate, Role, SafetyRisk, VisitUpdate};

use crate::fixtures::{new_case, visit};
use crate::harness::{Device, UserSpec};

/// The district of the scenario.
pub const DISTRICT: &str = "sylhet";

/// Sync rounds after the concurrent edits.
pub const ROUNDS: usize = 3;

/// One sync of the scenario: which device (0: `chw1`, 1: `chw2`, 2: the coordinator)
/// and which round (0: the first syncs after the cases are created; 1..=[`ROUNDS`]
/// after the concurrent edits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn {
    /// The device's index.
    pub device: usize,
    /// The round.
    pub round: usize,
}

/// A coordinator `coord` with sensitive access and CHWs `chw1`..=`chw<chws>`, all in
/// [`DISTRICT`].
pub fn users(chws: usize) -> Vec<UserSpec> {
    let mut coord = UserSpec::new("coord", Role::Coordinator, DISTRICT);
    coord.sensitive_access = true;
    let mut out = vec![coord];
    out.extend((1..=chws).map(|i| UserSpec::new(&format!("chw{i}"), Role::Chw, DISTRICT)));
    out
}

/// The scenario, for devices of `chw1`, `chw2` and the coordinator, each of them synced
/// with `sync`. Panics (it is a test) where a copy is wrong.
pub async fn create_edit_offline_and_converge(
    chw1: &Device,
    chw2: &Device,
    coord: &Device,
    sync: impl AsyncFn(&Device, Turn) -> Result<()>,
) {
    let devices = [chw1, chw2, coord];
    let sync_all = async |round: usize, order: [usize; 3]| {
        for device in order {
            sync(devices[device], Turn { device, round })
                .await
                .expect("sync");
        }
    };
    chw1.create(
        &new_case("case-a", DISTRICT, "chw1", "রহিমা খাতুন", false),
        1_000,
    )
    .expect("create a");
    chw1.edit("case-a", 2_000, |d, c| {
        d.add_visit(c, &visit("মা ও শিশু সুস্থ"))
    })
    .expect("visit");
    chw2.create(
        &new_case("case-b", DISTRICT, "chw2", "زهرا احمدی", false),
        1_500,
    )
    .expect("create b");
    sync_all(0, [0, 1, 2]).await;
    assert_eq!(
        coord.store.case_ids().expect("ids").len(),
        2,
        "the coordinator sees the district"
    );
    assert_eq!(
        chw1.store.case_ids().expect("ids"),
        vec!["case-a".to_string()],
        "a CHW sees only their own cases"
    );

    // Concurrent offline edits of one case by its CHW and the coordinator.
    let v = chw1
        .case("case-a")
        .expect("case")
        .visits
        .keys()
        .next()
        .cloned()
        .expect("visit id");
    let note = |text: &str| VisitUpdate {
        notes: Some(text.into()),
        ..Default::default()
    };
    chw1.edit("case-a", 3_000, |d, c| {
        d.update_visit(c, &v, &note("আজ: মা ও শিশু সুস্থ"))
    })
    .expect("edit");
    chw1.edit("case-a", 3_100, |d, c| {
        d.update_client(
            c,
            &ClientUpdate {
                phone: Some("+8801711000000".into()),
                ..Default::default()
            },
        )
    })
    .expect("phone");
    coord
        .edit("case-a", 3_200, |d, c| {
            d.update_visit(c, &v, &note("মা ও শিশু সুস্থ। টিকা দেওয়া হয়েছে"))
        })
        .expect("coord edit");
    coord
        .edit("case-a", 3_300, |d, c| {
            d.update_assessment(
                c,
                &AssessmentUpdate {
                    safety_risk: Some(SafetyRisk::Medium),
                    ..Default::default()
                },
            )
        })
        .expect("risk");
    coord
        .edit("case-a", 3_400, |d, c| d.reassign(c, "chw2"))
        .expect("reassign");
    for round in 1..=ROUNDS {
        sync_all(round, [0, 2, 1]).await;
    }

    let at_coord = coord.case("case-a").expect("case");
    let at_chw2 = chw2.case("case-a").expect("case");
    assert_eq!(at_coord, at_chw2, "both copies converge");
    assert_eq!(
        at_coord.visits[&v].notes, "আজ: মা ও শিশু সুস্থ। টিকা দেওয়া হয়েছে",
        "both note edits kept"
    );
    assert_eq!(at_coord.client.phone.as_deref(), Some("+8801711000000"));
    assert_eq!(
        at_coord.assessment.and_then(|a| a.safety_risk),
        Some(SafetyRisk::Medium)
    );
    assert_eq!(at_coord.assigned_to, "chw2");
    assert!(
        !chw1
            .store
            .case_ids()
            .expect("ids")
            .contains(&"case-a".into()),
        "reassigned away from chw1"
    );
    for d in devices {
        assert!(
            d.store.outbox().expect("outbox").is_empty(),
            "everything acknowledged"
        );
    }
}
