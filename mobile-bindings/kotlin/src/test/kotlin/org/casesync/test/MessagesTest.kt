// The phone's messages: errors raised by the core (a wrong password at login against the
// real server, an edit of a closed case, a stage change the lifecycle refuses) carry a
// stable code and parameters, and are formatted in Bengali and Farsi from the shipped
// catalogues; the English sentence stays for logs.
package org.casesync.test

import java.util.Locale
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import org.casesync.*
import org.casesync.core.*

val BN: Locale = Locale.forLanguageTag("bn-BD")
val FA: Locale = Locale.forLanguageTag("fa-IR")

/** The text without the bidi isolation marks around parameters. */
fun plain(s: String): String = s.replace("\u2068", "").replace("\u2069", "")

val messageTests = linkedMapOf<String, suspend () -> Unit>(
    "messages: a wrong password at login reads in Bengali and Farsi, English kept for logs" to {
        val probe = AsyncCaseStore.open(tempDir("msg-probe").path, storeKey(41), "device-msg-probe")
        probe.setTransportConfig(FAST)
        val e = assertFailsWith<CasesyncException.Unauthorized> { probe.login(server.url, "binh", "not-his-password") }
        assertEquals("auth.wrong_password", e.errorDetail.code)
        assertEquals("Wrong username or password.", e.errorDetail.english)
        assertEquals("ব্যবহারকারীর নাম বা পাসওয়ার্ড ভুল।", CasesyncMessages.format(e, BN))
        assertEquals("نام کاربری یا گذرواژه نادرست است.", CasesyncMessages.format(e, FA))
        assertEquals("ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง", CasesyncMessages.format(e, Locale.forLanguageTag("th")))
        assertEquals("Sai tên đăng nhập hoặc mật khẩu.", CasesyncMessages.format(e, Locale.forLanguageTag("vi-VN")))
        assertEquals("Wrong username or password.", CasesyncMessages.format(e, Locale.GERMAN), "unshipped language: English")
        probe.close()
    },

    "messages: a closed case and a refused stage change read in Bengali and Farsi, stages by the dashboard's names" to {
        val phone = Device.open(server, "amina-msg", "amina")
        val s = phone.store
        val id = "case-msg-1"
        s.createCase(NewCase(id, DISTRICT, "কুয়াকাটা", phone.userId, false, "সালমা বেগম"))

        val stage = assertFailsWith<CasesyncException.Invalid> { s.advanceStage(id, Stage.PLANNING) }
        assertEquals("case.stage_not_allowed", stage.errorDetail.code)
        assertEquals("intake", stage.errorDetail.params["from"])
        assertEquals("planning", stage.errorDetail.params["to"])
        assertEquals("কেসটি এখনো গ্রহণ থেকে পরিকল্পনা ধাপে নেওয়া যাবে না।", plain(CasesyncMessages.format(stage, BN)))
        assertEquals("پرونده هنوز نمی‌تواند از پذیرش به برنامه‌ریزی برود.", plain(CasesyncMessages.format(stage, FA)))
        assertTrue(CasesyncMessages.format(stage, FA).contains("\u2068پذیرش\u2069"), "parameters are bidi-isolated")

        s.closeCase(id, ClosureInput(day(0), ClosureReason.MOVED, true, "চলে গেছেন"))
        val closed = assertFailsWith<CasesyncException.Closed> { s.addVisit(id, VisitInput(day(0), VisitKind.HOME, "x")) }
        assertEquals("case.closed", closed.errorDetail.code)
        assertEquals("এই কেসটি বন্ধ। একজন সমন্বয়কারী এটি আবার খুলতে পারেন।", CasesyncMessages.format(closed, BN))
        assertEquals("این پرونده بسته است. هماهنگ‌کننده می‌تواند آن را دوباره باز کند.", CasesyncMessages.format(closed, FA))
        assertTrue(closed.message!!.contains("This case is closed."), "the English sentence stays: ${closed.message}")

        val forbidden = assertFailsWith<CasesyncException.Forbidden> { s.reopenCase(id) }
        assertEquals("chw", forbidden.errorDetail.params["role"])
        assertEquals("আপনার ভূমিকা (স্বাস্থ্যকর্মী) এটি করতে পারে না।", plain(CasesyncMessages.format(forbidden, BN)))
        s.close()
    },

    "messages: a short store key reads in Bengali; the numbers of a status read in Persian digits" to {
        val s = AsyncCaseStore.open(tempDir("msg-dates").path, storeKey(43), "device-msg-dates")
        val bad = assertFailsWith<CasesyncException.Invalid> { AsyncCaseStore.open(tempDir("msg-key").path, ByteArray(7), "d") }
        assertEquals("input.bad_key", bad.errorDetail.code)
        assertEquals("স্টোরের চাবি ৩২ বাইটের হতে হবে।", CasesyncMessages.format(bad, BN))
        val refused = ErrorDetail("server.refused", mapOf("status" to "503", "code" to "busy"), "busy")
        assertEquals("سرور نتوانست درخواست را انجام دهد (۵۰۳). بعداً دوباره تلاش کنید.", plain(CasesyncMessages.format(refused, FA)))
        assertEquals("unknown", CasesyncMessages.format(ErrorDetail("no.such_code", mapOf(), "unknown"), BN), "an unknown code: the English text")
        for (lang in CasesyncMessages.LANGUAGES) {
            assertTrue(CasesyncMessages.catalogue(lang).containsKey("case-closed"), lang)
        }
        s.close()
    },
)
