// Test harness: the real casesync-server on loopback, devices (one AsyncCaseStore each: the
// suite calls only suspend functions and Flows), and a plain main() runner (no JUnit) that prints "N passed, N failed".
package org.casesync.test

import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.util.concurrent.CompletableFuture
import java.util.concurrent.TimeUnit
import org.casesync.AsyncCaseStore
import org.casesync.sync
import org.casesync.Session
import org.casesync.SyncProgress
import org.casesync.SyncReport
import org.casesync.TransportConfig

const val DISTRICT = "D1"

/** Test users: name -> (role, password). */
val USERS = linkedMapOf(
    "amina" to ("chw" to "amina-pass-2024"),
    "binh" to ("chw" to "binh-pass-2024"),
    "coord" to ("coordinator" to "coord-pass-2024"),
    "dina" to ("chw" to "dina-pass-2024"),
    "legal1" to ("agency" to "legal1-pass-2024"),
)

/** The registered agency the suite's server knows (its staff user: `legal1`). */
const val AGENCY = "nari-legal"

fun tempDir(prefix: String): File = Files.createTempDirectory("casesync-kt-$prefix").toFile()

fun storeKey(seed: Int): ByteArray = ByteArray(32) { (seed * 31 + it).toByte() }

/** The real server binary, started once for the whole suite. */
class Server private constructor(private val process: Process, val url: String, val log: StringBuffer) {
    fun stop() {
        process.destroy()
        if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly()
    }

    /** A raw JSON POST (to act as another client, e.g. replaying a refresh token). */
    fun postJson(path: String, json: String): Pair<Int, String> {
        val req = HttpRequest.newBuilder(URI.create("$url$path"))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json))
            .build()
        val resp = HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString())
        return resp.statusCode() to resp.body()
    }

    companion object {
        fun start(): Server {
            val bin = System.getenv("CASESYNC_SERVER") ?: "target/debug/casesync-server"
            require(File(bin).canExecute()) { "server binary not found: $bin (build casesync-server)" }
            val data = tempDir("server")
            val put = ProcessBuilder(bin, "--data", data.path, "agency", "put", AGENCY,
                "--name", "en=Women's Legal Aid", "--name", "bn=নারী আইন সহায়তা কেন্দ্র",
                "--service", "legal", "--district", DISTRICT).redirectErrorStream(true).start()
            val putOut = put.inputStream.bufferedReader().readText()
            check(put.waitFor() == 0) { "agency put failed: $putOut" }
            for ((name, rp) in USERS) {
                val scope = if (rp.first == "agency") listOf("--agency", AGENCY) else listOf("--district", DISTRICT)
                val args = (listOf(bin, "--data", data.path, "user", "add", name,
                    "--role", rp.first, "--password", rp.second) + scope).toMutableList()
                if (rp.first == "coordinator") args += "--sensitive-access"
                val p = ProcessBuilder(args).redirectErrorStream(true).start()
                val out = p.inputStream.bufferedReader().readText()
                check(p.waitFor() == 0) { "user add $name failed: $out" }
            }
            val p = ProcessBuilder(bin, "--data", data.path, "serve", "--listen", "127.0.0.1:0")
                .redirectErrorStream(true).start()
            val log = StringBuffer()
            val url = CompletableFuture<String>()
            Thread {
                p.inputStream.bufferedReader().forEachLine { line ->
                    log.append(line).append('\n')
                    Regex("listening on (http://127\\.0\\.0\\.1:\\d+)").find(line)?.let { url.complete(it.groupValues[1]) }
                }
                url.completeExceptionally(IllegalStateException("server exited:\n$log"))
            }.apply { isDaemon = true }.start()
            return Server(p, url.get(60, TimeUnit.SECONDS), log)
        }
    }
}

/** Records every progress report of a sync (pass [add] as its onProgress). */
class Recorder {
    val seen = mutableListOf<SyncProgress>()
    fun add(progress: SyncProgress) {
        seen += progress
    }
}

/**
 * Short retries so failure tests are quick, and the development opt-in for plain
 * `http://`: the suite's server listens on http://127.0.0.1 (a phone would use https://).
 */
val FAST = TransportConfig(
    connectTimeoutMs = 5_000uL, idleTimeoutMs = 30_000uL,
    maxRetries = 2u, backoffInitialMs = 20uL, backoffMaxMs = 50uL,
    allowInsecureHttp = true,
)

/** One phone or laptop: its own store directory, key and device id, logged in as its user. */
class Device private constructor(val server: Server, val name: String, val store: AsyncCaseStore, val session: Session) {
    val deviceId get() = "device-$name"
    val userId get() = session.userId

    companion object {
        suspend fun open(server: Server, name: String, user: String, pageBytes: UInt = 262_144u): Device {
            val store = AsyncCaseStore.open(tempDir(name).path, storeKey(name.hashCode()), "device-$name")
            store.setTransportConfig(FAST.copy(pageBytes = pageBytes))
            val session = store.login(server.url, user, USERS.getValue(user).second)
            return Device(server, name, store, session)
        }
    }

    suspend fun sync(recorder: Recorder? = null): SyncReport = store.sync { p -> recorder?.add(p) }

    suspend fun ids(): List<String> = store.listCases(org.casesync.SummaryFilter()).summaries.map { it.id }
}
