package org.casesync.test

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import org.casesync.*
import org.casesync.core.*

/** The agency's own client over the JSON API (its staff do not use the phone SDK). */
private class AgencyClient(val server: Server) {
    private val http = HttpClient.newHttpClient()
    val token: String = run {
        val (status, body) = server.postJson(
            "/v1/auth/login",
            """{"username":"legal1","password":"${USERS.getValue("legal1").second}","device_id":"agency-desk"}""",
        )
        check(status == 200) { "agency login: $status $body" }
        Regex("\"access_token\"\\s*:\\s*\"([^\"]+)\"").find(body)!!.groupValues[1]
    }

    fun get(path: String): Pair<Int, String> = send(HttpRequest.newBuilder(URI.create(server.url + path)).GET())

    fun post(path: String, json: String): Pair<Int, String> = send(
        HttpRequest.newBuilder(URI.create(server.url + path))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json)),
    )

    private fun send(b: HttpRequest.Builder): Pair<Int, String> {
        val resp = http.send(b.header("authorization", "Bearer $token").build(), HttpResponse.BodyHandlers.ofString())
        return resp.statusCode() to resp.body()
    }
}

val agencyTests = linkedMapOf<String, suspend () -> Unit>(
    "a referral to a registered agency, made offline, comes back accepted and completed" to {
        val phone = Device.open(server, "agency-phone", "amina")
        val s = phone.store
        // The directory, fetched with signal and kept for offline use.
        val dir = s.refreshAgencies(phone.session, "bn")
        assertEquals(listOf(AGENCY), dir.map { it.id })
        assertEquals("নারী আইন সহায়তা কেন্দ্র", dir[0].name)
        assertEquals(listOf(AGENCY), s.agencies(DISTRICT, ReferralService.LEGAL, "en").map { it.id })
        assertTrue(s.agencies(DISTRICT, ReferralService.HOUSING, "en").isEmpty())
        val id = "case-agency-1"
        s.createCase(NewCase(id, DISTRICT, "گلستان", phone.userId, false, "مریم رحیمی"))
        s.recordIntake(id, IntakeInput(day(-3), IntakeSource.SELF_REFERRAL, null, "خشونت خانگی"))
        val toAgency = ReferralInput(ReferralService.LEGAL, dir[0].name, day(-1), agencyId = AGENCY,
            reason = "পারিবারিক সহিংসতা — আইনি পরামর্শ")
        // No consent to share yet: refused with a code the app can act on, nothing written.
        val e = assertFailsWith<CasesyncException.Forbidden> { s.addReferral(id, toAgency) }
        assertEquals("case.referral_needs_consent", e.errorDetail.code)
        assertEquals(0, s.getCase(id).referrals.size)
        s.recordConsent(id, true, day(-3), "chia sẻ với cơ quan chuyển gửi")
        assertTrue(s.activeReferralsForService(id, ReferralService.LEGAL).isEmpty())
        val ref = s.addReferral(id, toAgency)
        // A second legal referral would duplicate the service: the app is told first.
        assertEquals(listOf(ref), s.activeReferralsForService(id, ReferralService.LEGAL).map { it.id })
        phone.sync()

        val agency = AgencyClient(server)
        val (st, list) = agency.get("/v1/agency/referrals")
        assertEquals(200, st, list)
        assertTrue(list.contains("\"referral_id\":\"$ref\"") && list.contains("مریم رحیمی"), list)
        assertTrue(!list.contains("خشونت خانگی"), "the presenting problem is not shared")
        val (a, ab) = agency.post("/v1/agency/referrals/$id/$ref", """{"action":"accept","date":"${day(0)}"}""")
        assertEquals(200, a, ab)
        phone.sync()
        var r = s.getCase(id).referrals.first { it.id == ref }
        assertEquals(ReferralStatus.ACCEPTED, r.status)
        assertEquals("legal1", r.answeredBy)
        assertEquals(day(0), r.acceptedOn)
        val (c, cb) = agency.post("/v1/agency/referrals/$id/$ref",
            """{"action":"complete","date":"${day(0)}","outcome":"Đã được tư vấn pháp lý"}""")
        assertEquals(200, c, cb)
        phone.sync()
        r = s.getCase(id).referrals.first { it.id == ref }
        assertEquals(ReferralStatus.COMPLETED, r.status)
        assertEquals("Đã được tư vấn pháp lý", r.outcome)
        assertTrue(s.activeReferralsForService(id, ReferralService.LEGAL).isEmpty())
        // The agency's login holds no cases: its sync is refused.
        val (sy, _) = agency.post("/v1/sync", "{}")
        assertTrue(sy == 403 || sy == 415, "agency sync: $sy")
        s.close()
    },
)
