//! Who signed a change: the actor bound to the pushing device, and the history.

use super::*;

#[tokio::test]
async fn changes_signed_by_another_device_are_refused() {
    let w = World::start();
    let phone1 = w.device("chw-a", "phone-a1").await;
    let phone2 = w.device("chw-a", "phone-a2").await;
    let coord = w.device("coord-a", "laptop-a").await;
    phone1
        .create(
            &new_case("case-f", DHAKA, "chw-a", "Trần Văn Nam", false),
            1_000,
        )
        .expect("create");
    phone1.sync().await.expect("sync");
    phone2.sync().await.expect("sync");
    coord.sync().await.expect("sync");
    let before = w.served(&coord, &["case-f"]).await;
    let c = ctx("chw-a", Role::Chw);
    // Same user, other phone's actor.
    w.refuses_edit(
        &phone1,
        &phone1,
        "case-f",
        actor(&phone2),
        RefusalCode::ForeignActor,
        |d| d.add_visit(&c, &visit("ok")).map(|_| ()),
    )
    .await;
    // A coordinator forging the CHW's actor.
    let cc = ctx("coord-a", Role::Coordinator);
    w.refuses_edit(
        &coord,
        &coord,
        "case-f",
        actor(&phone1),
        RefusalCode::ForeignActor,
        |d| d.add_visit(&cc, &visit("forged")).map(|_| ()),
    )
    .await;
    // An actor id that is not 16 bytes at all.
    w.refuses_edit(
        &phone1,
        &phone1,
        "case-f",
        automerge::ActorId::from(&b"phone-a1"[..]),
        RefusalCode::ForeignActor,
        |d| d.add_visit(&c, &visit("odd")).map(|_| ()),
    )
    .await;
    assert_eq!(w.served(&coord, &["case-f"]).await, before);
}

/// Issue #14: a change's message names a user and a time, both written by the device.
/// The server records who pushed each change (authenticated user and device) and when
/// it received it; the history shows that beside the claim. On main the history had
/// only the claim (and no `GET /v1/cases/{id}/history`).
#[tokio::test]
async fn the_history_shows_who_pushed_each_change_beside_what_it_claims() {
    let w = World::start();
    let chw = w.device("chw-a", "phone-a").await;
    let coord = w.device("coord-a", "laptop-a").await;
    w.shared(
        &chw,
        &coord,
        new_case("case-t", DHAKA, "chw-a", "สมศรี ใจดี", false),
        &["case-t"],
    )
    .await;
    // chw-a's phone writes a visit whose message names coord-a, dated 1970.
    let forged = EditCtx::new("coord-a", Role::Coordinator, 0);
    let changes = changes_by(doc_of(&chw, "case-t"), actor(&chw), |d| {
        d.add_visit(&forged, &visit("Khám tại nhà, bà Hoa khỏe"))
            .map(|_| ())
    })
    .expect("edit");
    let t0 = now_ms();
    let resp = w.push(&chw, "case-t", changes).await;
    let t1 = now_ms();
    assert!(resp.refused.is_empty(), "{:?}", resp.refused);
    let r = w
        .http
        .get(format!("{}/v1/cases/case-t/history", w.url()))
        .bearer_auth(&coord.token)
        .send()
        .await
        .expect("history");
    assert_eq!(r.status().as_u16(), 200);
    let history: Vec<serde_json::Value> = r.json().await.expect("json");
    let visit = history
        .iter()
        .find(|h| h["user"] == "coord-a")
        .expect("the forged change");
    assert_eq!(visit["time_ms"], 0, "the claim is kept, as a claim");
    assert_eq!(visit["server"]["user_id"], "chw-a");
    assert_eq!(visit["server"]["device_id"], "phone-a");
    let received = visit["server"]["received_ms"].as_i64().expect("received");
    assert!((t0..=t1).contains(&received), "{t0} <= {received} <= {t1}");
    // The registration came through sync too.
    assert!(history
        .iter()
        .all(|h| h["server"]["user_id"] == "chw-a" && h["server"]["device_id"] == "phone-a"));
    // Out of scope: 404 as for the case itself.
    let other = w.device("coord-b", "laptop-b").await;
    assert_eq!(
        w.get(&other.token, "/v1/cases/case-t/history").await,
        code(404, "not_found")
    );
}
