// Handwritten (NOT generated): the store key's life on a phone.
//
// The store needs 32 key bytes; an Android Keystore key never leaves the Keystore, so it
// cannot be them. Instead: a random 32-byte store key, wrapped (AES-256-GCM) by a
// non-exportable Keystore key and kept wrapped in the app's files. At each start the
// Keystore unwraps it. (CasesyncAndroid.storeKey in the Android module does all of this;
// the functions here are plain javax.crypto, tested on the JVM with a JVM KeyStore.)
package org.casesync

import java.security.GeneralSecurityException
import java.security.SecureRandom
import javax.crypto.Cipher
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/** The store key could not be unwrapped: wrapped by another key, damaged, or the Keystore key is gone. */
class StoreKeyException(message: String, cause: Throwable? = null) : Exception(message, cause)

object StoreKeys {
    /** Bytes of a store key. */
    const val KEY_BYTES = 32

    /** First byte of a wrapped key: the format (AES-256-GCM, 12-byte IV, 128-bit tag). */
    private const val FORMAT: Byte = 1
    private const val IV_BYTES = 12
    private const val TAG_BITS = 128
    private const val TRANSFORMATION = "AES/GCM/NoPadding"

    /** A new random store key (32 bytes from SecureRandom). */
    fun generate(): ByteArray = ByteArray(KEY_BYTES).also { SecureRandom().nextBytes(it) }

    /**
     * [storeKey] encrypted under [wrapping] (an AES key: on Android, a Keystore key that
     * never leaves the Keystore). The IV is chosen by the cipher (the Keystore insists).
     * Keep the result in the app's files; it is useless without [wrapping].
     */
    fun wrap(storeKey: ByteArray, wrapping: SecretKey): ByteArray {
        require(storeKey.size == KEY_BYTES) { "a store key is $KEY_BYTES bytes" }
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.ENCRYPT_MODE, wrapping)
        val iv = cipher.iv
        check(iv.size == IV_BYTES) { "unexpected IV size ${iv.size}" }
        return byteArrayOf(FORMAT) + iv + cipher.doFinal(storeKey)
    }

    /**
     * The store key inside [wrapped] (from [wrap]). Throws [StoreKeyException] when it was
     * wrapped by another key or changed: then the store cannot be opened. Recovery: show
     * the count of unsent changes that would be lost (`unsentCases()` needs the key; if
     * it is gone, say "changes since the last sync"), erase the store directory, make a
     * new key, sign in and sync again.
     */
    fun unwrap(wrapped: ByteArray, wrapping: SecretKey): ByteArray {
        if (wrapped.size != 1 + IV_BYTES + KEY_BYTES + TAG_BITS / 8 || wrapped[0] != FORMAT) {
            throw StoreKeyException("not a wrapped store key (format or size)")
        }
        val cipher = Cipher.getInstance(TRANSFORMATION)
        try {
            cipher.init(Cipher.DECRYPT_MODE, wrapping, GCMParameterSpec(TAG_BITS, wrapped, 1, IV_BYTES))
            return cipher.doFinal(wrapped, 1 + IV_BYTES, wrapped.size - 1 - IV_BYTES)
        } catch (e: GeneralSecurityException) {
            throw StoreKeyException("the store key cannot be unwrapped with this key", e)
        }
    }
}
