// The Kotlin API of casesync on the JVM, against the real server on loopback: a whole
// case lifecycle in Bengali, Farsi, Thai and Vietnamese, sync between two CHWs and a
// coordinator, concurrent offline edits and their conflicts, reassignment, cancellation,
// refresh retries and a revoked token family (no wipe), a wrong store key, and the
// network failing.
package org.casesync.test

import java.time.LocalDate
import kotlin.system.exitProcess
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertFailsWith
import kotlin.test.assertNotEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Job
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.yield
import org.casesync.*
import org.casesync.core.*

val today: LocalDate = LocalDate.now()
fun day(offset: Long): LocalDate = today.plusDays(offset)

lateinit var server: Server
lateinit var amina: Device
lateinit var binh: Device
lateinit var coord: Device

const val LIFE = "case-bn-1"
const val SHARED = "case-fa-2"

val tests = linkedMapOf<String, suspend () -> Unit>(
    "login: wrong password is Unauthorized, then two CHWs and a coordinator log in" to {
        val probe = AsyncCaseStore.open(tempDir("probe").path, storeKey(9), "device-probe")
        probe.setTransportConfig(FAST)
        val e = assertFailsWith<CasesyncException.Unauthorized> { probe.login(server.url, "amina", "not-the-password") }
        assertTrue(e.message!!.contains("password"), "message for the worker: ${e.message}")
        assertNull(probe.session())
        // Not logged in: editing is refused with a clear error, nothing is written.
        assertFailsWith<CasesyncException.Unauthorized> {
            probe.createCase(NewCase("x-1", DISTRICT, "v", "amina", false, "n"))
        }
        probe.close()
        amina = Device.open(server, "amina-phone", "amina")
        binh = Device.open(server, "binh-phone", "binh")
        coord = Device.open(server, "coord-laptop", "coord")
        assertEquals(Role.CHW, amina.session.role)
        assertEquals(Role.COORDINATOR, coord.session.role)
        assertNotEquals(amina.userId, binh.userId)
        assertEquals(amina.session, amina.store.session())
    },

    "a whole case lifecycle with Bengali, Farsi, Thai and Vietnamese text" to {
        val s = amina.store
        val me = amina.userId
        val created = s.createCase(NewCase(LIFE, DISTRICT, "চর কুকরি", me, false, "রহিমা খাতুন"))
        assertEquals(Stage.INTAKE, created.stage)
        assertEquals("রহিমা খাতুন", created.client.name)
        assertEquals(me, created.createdBy)
        assertFailsWith<CasesyncException.Forbidden> {
            s.createCase(NewCase("case-other", DISTRICT, "v", binh.userId, false, "someone"))
        }
        s.updateClient(LIFE, ClientUpdate(sex = Sex.FEMALE, ageEstimate = 34u, language = "bn", phone = "+8801700000000"))
        val daughter = s.addHouseholdMember(LIFE, "زهرا احمدی", "মেয়ে")
        val neighbour = s.addHouseholdMember(LIFE, "Nguyễn Văn An", "hàng xóm")
        s.removeHouseholdMember(LIFE, neighbour)
        assertFailsWith<CasesyncException.NotFound> { s.removeHouseholdMember(LIFE, neighbour) }

        assertFailsWith<CasesyncException.Invalid> { s.advanceStage(LIFE, Stage.ASSESSMENT) } // no consent yet
        assertFailsWith<CasesyncException.Invalid> {
            s.recordIntake(LIFE, IntakeInput(day(-10), IntakeSource.AGENCY_REFERRAL, null, "x")) // names no agency
        }
        s.recordIntake(LIFE, IntakeInput(day(-10), IntakeSource.AGENCY_REFERRAL, "โรงพยาบาลชุมชน", "ไม่มีรายได้ ลูกป่วยบ่อย"))
        s.recordConsent(LIFE, true, day(-10), "chia sẻ dữ liệu với cơ quan chuyển tuyến")
        s.advanceStage(LIFE, Stage.ASSESSMENT)
        assertFailsWith<CasesyncException.Invalid> { s.advanceStage(LIFE, Stage.PLANNING) } // no assessment date
        s.updateAssessment(LIFE, AssessmentUpdate(date = day(-9), safetyRisk = SafetyRisk.MEDIUM,
            strengths = "Chị ấy rất kiên nhẫn và được hàng xóm giúp đỡ", income = "কোনো আয় নেই"))
        s.setExtraField(LIFE, "children_under_5", ExtraValue.IntValue(2L))
        s.setExtraField(LIFE, "has_nid", ExtraValue.BoolValue(true))
        s.setExtraField(LIFE, "muac_cm", ExtraValue.FloatValue(11.5))
        s.setExtraField(LIFE, "note_fa", ExtraValue.TextValue("نیاز به پیگیری"))
        s.advanceStage(LIFE, Stage.PLANNING)
        assertFailsWith<CasesyncException.Invalid> { s.addGoal(LIFE, GoalInput("x", 0u)) } // priority 0
        val goal = s.addGoal(LIFE, GoalInput("ลูกได้รับวัคซีนครบ", 1u, method = "พาไปสถานีอนามัย", targetDate = day(20), evaluateBy = day(5)))
        s.updateGoal(LIFE, goal, GoalUpdate(priority = 2u))
        s.setReviewDate(LIFE, day(30))
        s.advanceStage(LIFE, Stage.IMPLEMENTATION)
        val ref = s.addReferral(LIFE, ReferralInput(ReferralService.HEALTH, "Upazila Health Complex", day(-1), followUpDate = day(3)))
        s.updateReferral(LIFE, ref, ReferralUpdate(status = ReferralStatus.ACCEPTED, outcome = "appointment given"))
        s.advanceStage(LIFE, Stage.MONITORING)
        val visit = s.addVisit(LIFE, VisitInput(day(-1), VisitKind.HOME, "বাড়িতে গিয়ে দেখা হলো", progress = "ভালো", nextVisitDate = day(2)))
        s.updateVisit(LIFE, visit, VisitUpdate(notes = "বাড়িতে গিয়ে দেখা হলো। শিশুটি সুস্থ।"))
        assertFailsWith<CasesyncException.NotFound> { s.updateVisit(LIFE, "no-such-visit", VisitUpdate(notes = "x")) }
        assertFailsWith<CasesyncException.NotFound> { s.getCase("no-such-case") }
        assertFailsWith<CasesyncException.Forbidden> { s.reassign(LIFE, binh.userId) }
        assertFailsWith<CasesyncException.Forbidden> { s.setSensitive(LIFE, true) }

        val c = s.getCase(LIFE)
        assertEquals(Stage.MONITORING, c.stage)
        assertEquals(Sex.FEMALE, c.client.sex)
        assertEquals(34u, c.client.ageEstimate)
        assertEquals(listOf(HouseholdMember(daughter, "زهرا احمدی", "মেয়ে")), c.client.household)
        val intake = assertNotNull(c.intake)
        assertEquals("โรงพยาบาลชุมชน", intake.referredBy)
        assertEquals("ไม่มีรายได้ ลูกป่วยบ่อย", intake.presentingProblem)
        assertEquals(Consent(true, day(-10), "chia sẻ dữ liệu với cơ quan chuyển tuyến", me), intake.consent)
        val a = assertNotNull(c.assessment)
        assertEquals(SafetyRisk.MEDIUM, a.safetyRisk)
        assertEquals("Chị ấy rất kiên nhẫn và được hàng xóm giúp đỡ", a.strengths)
        assertEquals(listOf(
            ExtraField("children_under_5", ExtraValue.IntValue(2L)),
            ExtraField("has_nid", ExtraValue.BoolValue(true)),
            ExtraField("muac_cm", ExtraValue.FloatValue(11.5)),
            ExtraField("note_fa", ExtraValue.TextValue("نیاز به پیگیری")),
        ), a.extra)
        assertEquals(listOf(Goal(goal, "ลูกได้รับวัคซีนครบ", 2u, "พาไปสถานีอนามัย", day(20), day(5), GoalStatus.ACTIVE)), c.plan.goals)
        assertEquals(day(30), c.plan.reviewDate)
        assertEquals(ReferralStatus.ACCEPTED, c.referrals.single().status)
        val v = c.visits.single()
        assertEquals("বাড়িতে গিয়ে দেখা হলো। শিশুটি সুস্থ।", v.notes)
        assertEquals(me, v.by)

        // Listing filters, from the index.
        suspend fun ids(f: SummaryFilter) = s.listCases(f).summaries.map { it.id }
        assertEquals(listOf(LIFE), ids(SummaryFilter(stage = Stage.MONITORING)))
        assertEquals(listOf<String>(), ids(SummaryFilter(stage = Stage.INTAKE)))
        assertEquals(listOf(LIFE), ids(SummaryFilter(village = "চর কুকরি")))
        assertEquals(listOf(LIFE), ids(SummaryFilter(text = "খাতুন")))
        assertEquals(listOf<String>(), ids(SummaryFilter(text = "Nguyễn")))
        assertEquals(listOf(LIFE), ids(SummaryFilter(dueOnOrBefore = day(2))))
        assertEquals(listOf<String>(), ids(SummaryFilter(dueOnOrBefore = day(1))))
        assertEquals(day(2), s.listCases(SummaryFilter()).summaries.single().nextDue)

        // Due follow-ups for the next week: visit (day 2), referral (day 3), goal (day 5).
        val due = s.dueFollowUps(me, today, 7u)
        assertEquals(listOf(FollowUpKind.VISIT, FollowUpKind.REFERRAL_FOLLOW_UP, FollowUpKind.GOAL_EVALUATION), due.map { it.kind })
        assertEquals(listOf(-2L, -3L, -5L), due.map { it.daysOverdue })
        assertEquals("রহিমা খাতুন", due.first().clientName)
        assertEquals(listOf<FollowUp>(), s.dueFollowUps(binh.userId, today, 7u))

        // History: who did what.
        val h = s.history(LIFE)
        assertEquals("case created", h.first().summary)
        assertTrue(h.any { it.summary == "visit recorded" && it.user == me }, "history: ${h.map { it.summary }}")
        assertTrue(h.all { it.user == me })

        // Closure and evaluation.
        assertFailsWith<CasesyncException.Invalid> {
            s.closeCase(LIFE, ClosureInput(day(0), ClosureReason.GOALS_ACHIEVED, false, "x")) // needs agreement
        }
        s.closeCase(LIFE, ClosureInput(day(0), ClosureReason.GOALS_ACHIEVED, true, "লক্ষ্য অর্জিত"))
        assertFailsWith<CasesyncException.Closed> { s.addVisit(LIFE, VisitInput(day(0), VisitKind.PHONE, "after")) }
        assertFailsWith<CasesyncException.Forbidden> { s.reopenCase(LIFE) }
        s.evaluate(LIFE, Evaluation(1u, 5u.toUByte()))
        val closed = s.getCase(LIFE)
        assertEquals(Stage.CLOSED, closed.stage)
        assertEquals(Closure(day(0), ClosureReason.GOALS_ACHIEVED, true, "লক্ষ্য অর্জিত"), closed.closure)
        assertEquals(Evaluation(1u, 5u.toUByte()), closed.evaluation)
        assertEquals(listOf<FollowUp>(), s.dueFollowUps(me, today, 60u))
        assertEquals(listOf(LIFE), s.unsentCases())
    },

    "sync: the CHW's edits reach the coordinator, with progress; the reopen comes back" to {
        val rec = Recorder()
        val report = amina.sync(rec)
        assertTrue(report.progress.docsPushed >= 1L, "pushed: $report")
        assertEquals(listOf<Refusal>(), report.refused)
        assertTrue(rec.seen.isNotEmpty(), "progress reported")
        assertEquals(report.progress, rec.seen.last())
        assertEquals(listOf<String>(), amina.store.unsentCases())
        coord.sync()
        assertEquals(amina.store.getCase(LIFE), coord.store.getCase(LIFE))
        coord.store.reopenCase(LIFE)
        coord.sync()
        amina.sync()
        assertEquals(Stage.MONITORING, amina.store.getCase(LIFE).stage)
        assertEquals(coord.userId, amina.store.history(LIFE).last().user)
    },

    "concurrent offline edits: different fields kept, notes merged, conflict listed and resolved" to {
        val a = amina.store
        a.createCase(NewCase(SHARED, DISTRICT, "روستای بالا", amina.userId, false, "فاطمه رضایی"))
        a.recordIntake(SHARED, IntakeInput(day(-3), IntakeSource.SELF_REFERRAL, null, "مشکل مسکن"))
        a.recordConsent(SHARED, true, day(-3), "ارجاع")
        a.advanceStage(SHARED, Stage.ASSESSMENT)
        a.updateAssessment(SHARED, AssessmentUpdate(date = day(-2), safetyRisk = SafetyRisk.LOW))
        val visit = a.addVisit(SHARED, VisitInput(day(-1), VisitKind.HOME, "Line one.\nLine two."))
        amina.sync()
        coord.sync()
        assertEquals(a.getCase(SHARED), coord.store.getCase(SHARED))

        // Both offline, editing the same case.
        a.updateAssessment(SHARED, AssessmentUpdate(safetyRisk = SafetyRisk.HIGH))
        a.updateVisit(SHARED, visit, VisitUpdate(notes = "Line one (amina).\nLine two."))
        a.updateClient(SHARED, ClientUpdate(phone = "0911 000 0000"))
        val c = coord.store
        c.updateAssessment(SHARED, AssessmentUpdate(safetyRisk = SafetyRisk.MEDIUM))
        c.updateVisit(SHARED, visit, VisitUpdate(notes = "Line one.\nLine two (coord)."))
        c.setVillage(SHARED, "روستای نو")

        amina.sync(); coord.sync(); amina.sync()
        val mine = a.getCase(SHARED)
        assertEquals(mine, c.getCase(SHARED), "both copies converge")
        assertEquals("0911 000 0000", mine.client.phone)
        assertEquals("روستای نو", mine.village)
        assertEquals("Line one (amina).\nLine two (coord).", mine.visits.single().notes)

        val conflicts = a.conflicts(SHARED)
        assertEquals(conflicts, c.conflicts(SHARED))
        val risk = conflicts.single()
        assertEquals("assessment.safety_risk", risk.path)
        assertEquals(setOf("\"high\"", "\"medium\""), risk.values.map { it.valueJson }.toSet())
        assertEquals(setOf(amina.userId, coord.userId), risk.values.map { it.user }.toSet())
        assertEquals("\"" + mine.assessment!!.safetyRisk!!.name.lowercase() + "\"", risk.values.first().valueJson)

        assertFailsWith<CasesyncException.Conflict> { c.resolveConflict(SHARED, "assessment.safety_risk", "\"low\"") }
        assertFailsWith<CasesyncException.Invalid> { c.resolveConflict(SHARED, "assessment.safety_risk", "high") }
        c.resolveConflict(SHARED, "assessment.safety_risk", "\"high\"")
        assertEquals(listOf<Conflict>(), c.conflicts(SHARED))
        coord.sync(); amina.sync()
        assertEquals(listOf<Conflict>(), a.conflicts(SHARED))
        assertEquals(SafetyRisk.HIGH, a.getCase(SHARED).assessment!!.safetyRisk)
        assertEquals(a.getCase(SHARED), c.getCase(SHARED))
    },

    "reassignment: the old worker's offline visit reaches the new worker; the case leaves the old phone" to {
        amina.store.addVisit(SHARED, VisitInput(day(0), VisitKind.PHONE, "Gọi điện: chị ấy đã chuyển nhà"))
        coord.store.reassign(SHARED, binh.userId)
        coord.sync()
        binh.sync()
        assertEquals(binh.userId, binh.store.getCase(SHARED).assignedTo)
        assertTrue(SHARED in binh.ids())
        val report = amina.sync()
        assertEquals(listOf<Refusal>(), report.refused, "the old worker's edits are accepted")
        repeat(2) { if (SHARED in amina.ids()) amina.sync() }
        assertTrue(SHARED !in amina.ids(), "case left the old worker's phone: ${amina.ids()}")
        assertEquals(listOf<String>(), amina.store.unsentCases())
        binh.sync()
        val notes = binh.store.getCase(SHARED).visits.map { it.notes }
        assertTrue("Gọi điện: chị ấy đã chuyển nhà" in notes, "new worker sees the old worker's visit: $notes")
        assertTrue(LIFE in amina.ids())
    },

    "refused edits: listed with the reason, not resent, retried or discarded on request" to {
        val s = amina.store
        val id = "case-vi-refused"
        // A district amina does not hold: the server refuses the new case.
        s.createCase(NewCase(id, "D9", "Làng Mới", amina.userId, false, "Trần Văn Bình"))
        val first = amina.sync()
        val refusal = first.refused.single()
        assertEquals(id, refusal.caseId)
        val listed = s.refusedChanges().single()
        assertEquals(RefusedCase(id, refusal.code, refusal.message, 1L), listed)
        // Parked: the next syncs do not send it again, the phone still shows the case.
        repeat(2) { assertEquals(listOf<Refusal>(), amina.sync().refused, "resent") }
        assertEquals("Trần Văn Bình", s.getCase(id).client.name)
        assertEquals(listOf(id), s.unsentCases())
        // Retried on request: refused again, parked again.
        assertTrue(s.retryRefused(id))
        assertEquals(listOf(id), amina.sync().refused.map { it.caseId })
        assertFalse(s.retryRefused("case-not-refused"))
        // Discarded: the server never had the case, so it leaves the phone.
        assertEquals(Discarded(1L, true), s.discardRefused(id))
        assertTrue(id !in amina.ids())
        assertEquals(listOf<RefusedCase>(), s.refusedChanges())
        assertEquals(listOf<String>(), s.unsentCases())
        assertFailsWith<CasesyncException.NotFound> { s.discardRefused(id) }
    },

    "cancellation: cancelling the coroutine stops the sync before the next page and keeps saved pages" to {
        for (i in 1..6) amina.store.createCase(NewCase("case-th-$i", DISTRICT, "บ้านนา", amina.userId, false, "สมศรี ใจดี $i"))
        amina.sync()
        coord.sync()
        val total = coord.ids().size
        assertTrue(total >= 8, "coordinator sees the district: $total")

        val laptop = Device.open(server, "coord-laptop-2", "coord", pageBytes = 512u)
        coroutineScope {
            // Cancelled before it starts: nothing received.
            val early = launch(start = CoroutineStart.LAZY) { laptop.sync() }
            early.cancel()
            early.join()
            assertEquals(0, laptop.ids().size)
            // Cancelled from the first page's progress report: that page stays, no second one.
            var calls = 0
            var job: Job? = null
            job = launch { laptop.store.sync { calls++; job?.cancel() } }
            job.join()
            assertTrue(job.isCancelled)
            assertEquals(1, calls)
        }
        val kept = laptop.ids().size
        assertTrue(kept in 1 until total, "first page kept, not all: $kept of $total")
        val done = laptop.sync()
        assertTrue(done.progress.pages >= 2, "resumed over several pages: $done")
        assertEquals(coord.ids(), laptop.ids())
        laptop.store.close()
    },

    "syncFlow: progress after every page, then the report; changed ids listed" to {
        val laptop = Device.open(server, "coord-laptop-3", "coord", pageBytes = 512u)
        val events = laptop.store.syncFlow().toList()
        val progress = events.filterIsInstance<SyncEvent.Progress>().map { it.progress }
        val report = (events.last() as SyncEvent.Finished).report
        assertTrue(progress.size >= 2, "several pages: $progress")
        assertEquals((1..progress.size).toList(), progress.map { it.pages })
        assertEquals(report.progress, progress.last())
        assertEquals(listOf<Refusal>(), report.refused)
        assertEquals(coord.ids().sorted(), report.changed, "the report lists every case received")
        assertEquals(listOf<String>(), report.removed)
        assertEquals(coord.ids(), laptop.ids())
        laptop.store.close()
    },

    "changes(): the Flow sees exactly the ids of edits, sync pages, a removal and a wipe, on two devices" to {
        val phone = Device.open(server, "amina-phone-flow", "amina")
        val laptop = Device.open(server, "coord-laptop-flow", "coord")
        phone.sync()
        laptop.sync()
        val onPhone = mutableListOf<CaseChanges>()
        val onLaptop = mutableListOf<CaseChanges>()
        coroutineScope {
            // UNDISPATCHED: each subscription is made before launch returns.
            val a = launch(start = CoroutineStart.UNDISPATCHED) { phone.store.changes().collect { onPhone += it } }
            val b = launch(start = CoroutineStart.UNDISPATCHED) { laptop.store.changes().collect { onLaptop += it } }
            val id = "case-flow-vi"
            phone.store.createCase(NewCase(id, DISTRICT, "Phú Mỹ", phone.userId, false, "Lê Thị Thu"))
            phone.store.addVisit(id, VisitInput(day(0), VisitKind.HOME, "Thăm nhà lần đầu"))
            val pushed = phone.sync()
            assertEquals(listOf<String>(), pushed.removed)
            val received = laptop.sync()
            assertEquals(listOf(id), received.changed)
            laptop.store.reassign(id, binh.userId)
            laptop.sync()
            var gone = phone.sync()
            if (gone.removed.isEmpty()) gone = phone.sync()
            assertEquals(listOf(id), gone.removed)
            phone.store.eraseLocalData()
            // Every change above was delivered before the call that made it returned.
            yield()
            a.cancel()
            b.cancel()
        }
        val edit = { ids: List<String> -> CaseChanges(ChangeOrigin.EDIT, ids, listOf()) }
        assertEquals(
            listOf(
                edit(listOf("case-flow-vi")),
                edit(listOf("case-flow-vi")),
                CaseChanges(ChangeOrigin.SYNC, listOf(), listOf("case-flow-vi")),
                CaseChanges(ChangeOrigin.WIPE, listOf(), listOf()),
            ),
            onPhone,
        )
        assertEquals(
            listOf(
                CaseChanges(ChangeOrigin.SYNC, listOf("case-flow-vi"), listOf()),
                edit(listOf("case-flow-vi")),
            ),
            onLaptop,
        )
        phone.store.close()
        laptop.store.close()
    },

    "logs: a registered sink hears the sync's events, with counts and no personal data" to {
        val seen = java.util.Collections.synchronizedList(mutableListOf<Triple<LogLevel, String, String>>())
        routeCasesyncLogs(LogLevel.DEBUG) { level, target, message -> seen += Triple(level, target, message) }
        try {
            amina.store.addVisit(LIFE, VisitInput(day(0), VisitKind.PHONE, "রহিমা খাতুন জানালেন তিনি ভালো আছেন"))
            amina.sync()
        } finally {
            stopCasesyncLogs()
        }
        val finished = seen.filter { it.third.startsWith("sync finished") }
        assertEquals(1, finished.size, "$seen")
        assertEquals(LogLevel.INFO, finished.single().first)
        assertEquals("casesync::sync", finished.single().second)
        assertTrue("pushed=1" in finished.single().third, finished.single().third)
        assertTrue(seen.any { it.first == LogLevel.DEBUG && it.third.startsWith("page saved") }, "$seen")
        val private = listOf("রহিমা", "খাতুন", LIFE, amina.session.accessToken.value)
        assertTrue(seen.none { e -> private.any { it in e.third } }, "no personal data: $seen")
        val after = seen.size
        amina.sync()
        assertEquals(after, seen.size, "nothing after stopCasesyncLogs")
    },

    "offline: edits work without a server; sync fails with Network after bounded retries and keeps them" to {
        val s = AsyncCaseStore.open(tempDir("offline").path, storeKey(3), "device-offline")
        s.setTransportConfig(FAST)
        assertFailsWith<CasesyncException.Network> { s.login("http://127.0.0.1:9", "amina", "x") }
        s.restoreSession(Session("http://127.0.0.1:9", "someone", Role.CHW, SecretToken("token"), SecretToken("refresh"), Long.MAX_VALUE))
        s.createCase(NewCase("case-off-1", DISTRICT, "v", "someone", false, "Trần Thị Mai"))
        val started = System.nanoTime()
        val e = assertFailsWith<CasesyncException.Network> { s.sync() }
        assertTrue(e.message!!.contains("saved on this phone"), e.message)
        assertTrue(System.nanoTime() - started < 10_000_000_000L, "bounded retries")
        assertEquals(listOf("case-off-1"), s.unsentCases())
        s.close()
    },

    "wrong store key: refused with WrongKey, data intact with the right key" to {
        val dir = tempDir("keys")
        AsyncCaseStore.open(dir.path, storeKey(1), "device-keys").use { s ->
            s.restoreSession(amina.session)
            s.createCase(NewCase("case-key-1", DISTRICT, "v", amina.userId, true, "রহিমা"))
        }
        val e = assertFailsWith<CasesyncException.WrongKey> { AsyncCaseStore.open(dir.path, storeKey(2), "device-keys") }
        assertTrue(e.message!!.isNotBlank())
        assertFailsWith<CasesyncException.Invalid> { AsyncCaseStore.open(dir.path, ByteArray(31), "device-keys") }
        AsyncCaseStore.open(dir.path, storeKey(1), "device-keys").use { s ->
            assertEquals(listOf("রহিমা"), s.listCases(SummaryFilter()).summaries.map { it.name })
        }
    },

    "refresh: a retry with the spent token gets the same successor; reuse later asks for the password and keeps the work" to {
        val phone = Device.open(server, "binh-phone-2", "binh")
        phone.sync()
        assertTrue(SHARED in phone.ids())
        val first = phone.store.session()!!
        val second = phone.store.refresh()
        assertNotEquals(first.refreshToken, second.refreshToken)
        // A session written to a log carries no credential.
        val printed = second.toString()
        assertTrue(second.userId in printed, printed)
        assertFalse(second.accessToken.value in printed, printed)
        assertFalse(second.refreshToken.value in printed, printed)
        // The answer to that refresh was lost: the retry with the spent token gets the same successor.
        val (status, body) = server.postJson("/v1/auth/refresh",
            """{"refresh_token":"${first.refreshToken.value}","device_id":"${phone.deviceId}"}""")
        assertEquals(200, status, body)
        assertTrue(body.contains(second.refreshToken.value), body)
        // The successor is used; then someone replays the first token: the token family is revoked.
        val third = phone.store.refresh()
        val (reused, rbody) = server.postJson("/v1/auth/refresh",
            """{"refresh_token":"${first.refreshToken.value}","device_id":"${phone.deviceId}"}""")
        assertEquals(401, reused)
        assertTrue(rbody.contains("refresh_reused"), rbody)
        // The phone is asked for the password, nothing is wiped, offline edits still work.
        phone.store.restoreSession(third.copy(accessExpiresAtMs = 0))
        val e = assertFailsWith<CasesyncException.Unauthorized> { phone.sync() }
        assertTrue(e.message!!.contains("sign in again"), e.message)
        assertTrue(SHARED in phone.ids(), "nothing wiped")
        assertNull(phone.store.lastWipe())
        phone.store.addVisit(SHARED, VisitInput(day(0), VisitKind.PHONE, "kept through a sign-in"))
        assertEquals(listOf(SHARED), phone.store.unsentCases())
        phone.store.login(server.url, "binh", USERS.getValue("binh").second)
        phone.sync()
        assertEquals(listOf<String>(), phone.store.unsentCases(), "the unsent visit went out")
        binh.sync()
        assertTrue(binh.store.getCase(SHARED).visits.any { it.notes == "kept through a sign-in" })
        // Erasing local data on purpose says what unsent work it destroys.
        phone.store.addVisit(SHARED, VisitInput(day(0), VisitKind.PHONE, "never sent"))
        val wipe = phone.store.eraseLocalData()
        assertEquals(1L, wipe.unsentCases)
        assertTrue(wipe.unsentChanges >= 1L)
        assertEquals(wipe, phone.store.lastWipe())
        assertEquals(listOf<String>(), phone.ids())
        phone.store.close()
    },

    "rate limiting: repeated wrong passwords are RateLimited" to {
        val s = AsyncCaseStore.open(tempDir("rate").path, storeKey(4), "device-rate")
        s.setTransportConfig(FAST)
        val errors = (1..7).map { runCatching { s.login(server.url, "dina", "wrong-$it") }.exceptionOrNull() }
        assertTrue(errors.all { it is CasesyncException }, "$errors")
        assertTrue(errors.first() is CasesyncException.Unauthorized)
        assertTrue(errors.last() is CasesyncException.RateLimited, "after 5 failures: ${errors.last()}")
        s.close()
    },
)

fun main() {
    var passed = 0
    var failed = 0
    try {
        server = Server.start()
    } catch (e: Throwable) {
        println("FAIL starting the server: $e")
        println("0 passed, 1 failed")
        exitProcess(1)
    }
    try {
        for ((name, test) in tests + duplicateTests + messageTests + transportTests + agencyTests + keyTests) {
            try {
                runBlocking { test() }
                passed++
                println("ok   $name")
            } catch (e: Throwable) { // assertion errors, CasesyncException, JNA link errors, native panics
                failed++
                println("FAIL $name\n     $e")
                e.stackTrace.take(6).forEach { println("       at $it") }
            }
        }
    } finally {
        server.stop()
    }
    if (failed > 0) println("--- server log (tail) ---\n" + server.log.toString().takeLast(3000))
    println("$passed passed, $failed failed")
    exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}
