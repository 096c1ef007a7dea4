// Handwritten, Android only (not part of the JVM suite: it needs android.content.Context).
package org.casesync.android

import android.content.Context

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
}
