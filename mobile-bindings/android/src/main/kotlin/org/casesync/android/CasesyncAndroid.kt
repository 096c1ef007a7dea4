// Handwritten, Android only (not part of the JVM suite: it needs android.content.Context).
package org.casesync.android

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import java.io.File
import java.security.KeyStore
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import org.casesync.StoreKeyException
import org.casesync.StoreKeys

/**
 * Connects casesync's TLS to Android's certificate verifier. Call it once, before the
 * first `login`, `refresh` or `sync` (in `Application.onCreate`); later calls do nothing.
 *
 * casesync checks server certificates with rustls-platform-verifier, which on Android asks
 * the platform's trust manager (the system CAs and the CAs installed on the phone by the
 * user or by device management) through JNI: it needs the application context, and its
 * Kotlin component (`org.rustls.platformverifier`, a dependency of this module). Until
 * this is called, every login and sync fails with `CasesyncException.Insecure`
 * (`network.tls_setup`) before anything is sent.
 */
object CasesyncAndroid {
    private var connected = false

    /** Throws [RuntimeException] ("Rust error: ...") when the JVM refuses. */
    @JvmStatic
    @Synchronized
    fun init(context: Context) {
        if (connected) return
        // The library the uniffi bindings open through JNA; loading it here as well lets
        // the JVM resolve the native method below (ffi/src/android.rs).
        System.loadLibrary("casesync_ffi")
        initPlatformVerifier(context.applicationContext)
        connected = true
    }

    @JvmStatic
    private external fun initPlatformVerifier(context: Context)

    private const val KEYSTORE = "AndroidKeyStore"

    /**
     * Where the case store lives: under `noBackupFilesDir`, which Android's Auto Backup
     * and device-to-device transfer leave out (a backup of encrypted cases without the
     * Keystore key could never be opened, and survivors' cases must not leave the phone).
     */
    @JvmStatic
    fun storeDir(context: Context): File = File(context.noBackupFilesDir, "casesync-cases")

    /**
     * The store key: a random 32-byte key (StoreKeys.generate), wrapped by the
     * non-exportable AES Keystore key [alias] and kept wrapped beside the store. Made on
     * the first call; unwrapped on later ones. Throws [StoreKeyException] when the
     * Keystore key is gone or changed (the phone's lock screen was reset, a restore onto
     * another phone): see StoreKeys.unwrap for the recovery.
     */
    @JvmStatic
    @Synchronized
    fun storeKey(context: Context, alias: String = "casesync-store-key"): ByteArray {
        val file = File(context.noBackupFilesDir, "$alias.wrapped")
        val keystore = KeyStore.getInstance(KEYSTORE).apply { load(null) }
        val existing = keystore.getKey(alias, null) as SecretKey?
        if (file.exists()) {
            val wrapping = existing ?: throw StoreKeyException("the Keystore key $alias is gone")
            return StoreKeys.unwrap(file.readBytes(), wrapping)
        }
        val wrapping = existing ?: KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, KEYSTORE).run {
            init(
                KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                    .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                    .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                    .setKeySize(256)
                    .build(),
            )
            generateKey()
        }
        val key = StoreKeys.generate()
        val tmp = File(file.path + ".tmp")
        tmp.writeBytes(StoreKeys.wrap(key, wrapping))
        check(tmp.renameTo(file)) { "cannot write $file" }
        return key
    }
}
