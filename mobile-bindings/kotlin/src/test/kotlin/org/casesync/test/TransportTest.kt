// The phone's network rules through the Kotlin API: a plain http:// server is refused
// with Insecure before a byte is sent unless the app opted in for development (the rest
// of the suite opts in: its server is on http://127.0.0.1), the error reads in the
// worker's language, and an unreadable CA certificate is refused when it is configured,
// the settings unchanged. (The TLS half, a private CA refused then trusted once
// configured, is ffi/tests/tls.rs: this suite's server speaks plain HTTP.)
package org.casesync.test

import java.net.InetAddress
import java.net.ServerSocket
import java.net.SocketTimeoutException
import java.util.Locale
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.concurrent.thread
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import org.casesync.*
import org.casesync.core.*

/** [FAST] without the development opt-in: what a phone in the field runs with. */
val STRICT = FAST.copy(allowInsecureHttp = false)

val transportTests = linkedMapOf<String, suspend () -> Unit>(
    "network rules: plain http:// without the opt-in is Insecure, nothing sent, in the worker's language" to {
        val s = AsyncCaseStore.open(tempDir("strict").path, storeKey(51), "device-strict")
        s.setTransportConfig(STRICT)
        assertEquals(false, s.transportConfig().allowInsecureHttp, "the default a phone runs with")
        val e = assertFailsWith<CasesyncException.Insecure> { s.login(server.url, "amina", USERS.getValue("amina").second) }
        assertEquals("network.insecure_http", e.errorDetail.code)
        assertTrue(e.errorDetail.english.contains("nothing was sent"), e.errorDetail.english)
        assertNull(s.session(), "no session from a refused login")
        assertEquals("The server address is not secure (http://); nothing was sent. Ask your coordinator for the https:// address.", CasesyncMessages.format(e, Locale.ENGLISH))
        assertEquals("সার্ভারের ঠিকানা নিরাপদ নয় (http://); কিছুই পাঠানো হয়নি। আপনার সমন্বয়কারীর কাছে https:// ঠিকানা চান।", CasesyncMessages.format(e, BN))
        assertEquals("نشانی سرور امن نیست (http://)؛ چیزی فرستاده نشد. نشانی https:// را از هماهنگ‌کننده بپرسید.", CasesyncMessages.format(e, FA))
        assertEquals("ที่อยู่เซิร์ฟเวอร์ไม่ปลอดภัย (http://) ยังไม่ได้ส่งข้อมูลใด ขอที่อยู่ https:// จากผู้ประสานงาน", CasesyncMessages.format(e, Locale.forLanguageTag("th")))
        assertEquals("Địa chỉ máy chủ không an toàn (http://); chưa gửi gì. Hãy hỏi điều phối viên địa chỉ https://.", CasesyncMessages.format(e, Locale.forLanguageTag("vi-VN")))

        // Nothing is sent: a listener on loopback sees no connection, for login or sync.
        ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { listener ->
            listener.soTimeout = 300
            val url = "http://127.0.0.1:${listener.localPort}"
            assertFailsWith<CasesyncException.Insecure> { s.login(url, "amina", "x") }
            s.restoreSession(Session(url, "someone", Role.CHW, SecretToken("token"), SecretToken("refresh"), Long.MAX_VALUE))
            s.createCase(NewCase("case-strict-1", DISTRICT, "v", "someone", false, "Nguyễn Văn An"))
            val sync = assertFailsWith<CasesyncException.Insecure> { s.sync() }
            assertEquals("network.insecure_http", sync.errorDetail.code)
            assertFailsWith<SocketTimeoutException> { listener.accept().close() }
        }
        assertEquals(listOf("case-strict-1"), s.unsentCases(), "the edit stays on the phone")

        // Opted in (development), the same store reaches the suite's server.
        s.setTransportConfig(FAST)
        val session = s.login(server.url, "amina", USERS.getValue("amina").second)
        assertEquals(Role.CHW, session.role)
        s.close()
    },

    "network rules: an unreadable CA certificate is refused when configured, settings unchanged" to {
        val s = AsyncCaseStore.open(tempDir("bad-ca").path, storeKey(52), "device-bad-ca")
        s.setTransportConfig(STRICT)
        val before = s.transportConfig()
        val e = assertFailsWith<CasesyncException.Insecure> {
            s.setTransportConfig(FAST.copy(extraCaCertificatesPem = listOf("-----BEGIN CERTIFICATE-----\n!!\n")))
        }
        assertEquals("network.tls_setup", e.errorDetail.code)
        assertTrue(e.errorDetail.params["detail"]!!.contains("extra CA certificate 1"), "${e.errorDetail.params}")
        assertEquals(before, s.transportConfig(), "nothing changed: still no http:// opt-in")
        assertEquals("অ্যাপের নিরাপদ সংযোগের সেটিংস ব্যবহারযোগ্য নয়। আপনার সমন্বয়কারীর সাথে যোগাযোগ করুন।", CasesyncMessages.format(e, BN))
        s.close()
    },

    "cancellation inside a page: an answer still arriving is given up within a read, nothing saved" to {
        ServerSocket(0, 1, InetAddress.getLoopbackAddress()).use { listener ->
            // A server whose answer trickles in (512 bytes every 50 ms, a megabyte promised):
            // a 2G page that would take minutes.
            val trickle = thread(isDaemon = true) {
                runCatching {
                    listener.accept().use { sock ->
                        sock.getOutputStream().apply {
                            write("HTTP/1.1 200 OK\r\ncontent-type: application/x-casesync\r\ncontent-length: 1000000\r\n\r\n".toByteArray())
                            flush()
                            repeat(400) { write(ByteArray(512)); flush(); Thread.sleep(50) }
                        }
                    }
                }
            }
            val s = AsyncCaseStore.open(tempDir("slow-page").path, storeKey(53), "device-slow-page")
            s.setTransportConfig(FAST)
            val url = "http://127.0.0.1:${listener.localPort}"
            s.restoreSession(Session(url, "someone", Role.CHW, SecretToken("token"), SecretToken("refresh"), Long.MAX_VALUE))
            val started = System.nanoTime()
            coroutineScope {
                val job = launch { s.sync() }
                delay(500)
                job.cancel()
                job.join()
                assertTrue(job.isCancelled)
            }
            val tookMs = (System.nanoTime() - started) / 1_000_000
            assertTrue(tookMs < 3_000, "cancelled inside the page, not at its end: $tookMs ms")
            assertEquals(0, s.listCases(SummaryFilter()).summaries.size)
            s.close()
            trickle.interrupt()
        }
    },
)
