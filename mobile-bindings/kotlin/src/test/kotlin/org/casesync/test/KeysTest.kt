// The store key's life on a phone, with a JVM KeyStore standing in for Android's: a random
// store key wrapped by a KeyStore AES key opens the same store after a "restart"; another
// key or a damaged wrapped key is refused; when the KeyStore key is gone the store is
// WrongKey and the recovery (count unsent work, erase, start again) works.
package org.casesync.test

import java.io.ByteArrayInputStream
import java.io.ByteArrayOutputStream
import java.security.KeyStore
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import org.casesync.*
import org.casesync.core.*

private val PASSWORD = "keystore-pass".toCharArray()

/** A KeyStore holding one AES-256 key under [alias], saved and loaded again (a restart). */
private fun keystoreWithKey(alias: String): KeyStore {
    val ks = KeyStore.getInstance("PKCS12").apply { load(null, PASSWORD) }
    val aes = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()
    ks.setEntry(alias, KeyStore.SecretKeyEntry(aes), KeyStore.PasswordProtection(PASSWORD))
    val saved = ByteArrayOutputStream().also { ks.store(it, PASSWORD) }.toByteArray()
    return KeyStore.getInstance("PKCS12").apply { load(ByteArrayInputStream(saved), PASSWORD) }
}

private fun KeyStore.aes(alias: String): SecretKey = getKey(alias, PASSWORD) as SecretKey

val keyTests = linkedMapOf<String, suspend () -> Unit>(
    "store key: wrapped by a KeyStore key, unwrapped at the next start, refused when the key is another or damaged" to {
        val ks = keystoreWithKey("casesync-store-key")
        val storeKey = StoreKeys.generate()
        assertEquals(32, storeKey.size)
        val wrapped = StoreKeys.wrap(storeKey, ks.aes("casesync-store-key"))
        assertFalse(wrapped.asList().windowed(8).any { w -> storeKey.asList().windowed(8).contains(w) }, "the key does not appear in the clear")
        assertContentEquals(storeKey, StoreKeys.unwrap(wrapped, ks.aes("casesync-store-key")))

        val dir = tempDir("wrapped-key")
        AsyncCaseStore.open(dir.path, StoreKeys.unwrap(wrapped, ks.aes("casesync-store-key")), "device-keys-2").use { s ->
            s.restoreSession(amina.session)
            s.createCase(NewCase("case-wrapped-1", DISTRICT, "v", amina.userId, false, "সালমা বেগম"))
        }
        // The next start: the same wrapped key opens the same store.
        AsyncCaseStore.open(dir.path, StoreKeys.unwrap(wrapped, ks.aes("casesync-store-key")), "device-keys-2").use { s ->
            assertEquals(listOf("সালমা বেগম"), s.listCases(SummaryFilter()).summaries.map { it.name })
        }
        val other = keystoreWithKey("casesync-store-key")
        assertFailsWith<StoreKeyException> { StoreKeys.unwrap(wrapped, other.aes("casesync-store-key")) }
        val damaged = wrapped.copyOf().also { it[20] = (it[20].toInt() xor 1).toByte() }
        assertFailsWith<StoreKeyException> { StoreKeys.unwrap(damaged, ks.aes("casesync-store-key")) }
        assertFailsWith<StoreKeyException> { StoreKeys.unwrap(wrapped.copyOf(10), ks.aes("casesync-store-key")) }
    },

    "store key gone: WrongKey, the unsent work is counted first, then erase and start again" to {
        val dir = tempDir("lost-key")
        val first = StoreKeys.generate()
        AsyncCaseStore.open(dir.path, first, "device-lost-key").use { s ->
            s.restoreSession(amina.session)
            s.createCase(NewCase("case-lost-1", DISTRICT, "v", amina.userId, false, "ندا کریمی"))
            // Before any risky step the app can show what is not yet on the server.
            assertEquals(listOf("case-lost-1"), s.unsentCases())
        }
        // The KeyStore key was lost (a new lock screen): a new key cannot open the store.
        val e = assertFailsWith<CasesyncException.WrongKey> { AsyncCaseStore.open(dir.path, StoreKeys.generate(), "device-lost-key") }
        assertEquals("store.wrong_key", e.errorDetail.code)
        // Recovery: erase the store's directory, open with a new key, sign in and sync again.
        assertEquals(true, dir.deleteRecursively())
        val fresh = Device.open(server, "amina-after-key-loss", "amina")
        fresh.sync()
        assertTrue(LIFE in fresh.ids(), "the worker's cases came back: ${fresh.ids()}")
        fresh.store.close()
    },
)
