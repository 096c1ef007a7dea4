//! Android only: connects rustls-platform-verifier to the platform's certificate verifier.
//!
//! On Android the verifier checks certificates by calling Android's trust manager through
//! JNI (its Kotlin component, `org.rustls.platformverifier`, packaged by
//! mobile-bindings/android), so it needs the JVM and the application context before the
//! first handshake. The app hands them over once with `CasesyncAndroid.init(context)`
//! (mobile-bindings/android), which calls [`init_platform_verifier`]. Until then
//! `tls::client_config` refuses with `network.tls_setup`, nothing sent, instead of letting
//! the verifier panic on its first certificate.

use std::sync::atomic::{AtomicBool, Ordering};

use jni::errors::ThrowRuntimeExAndDefault;
use jni::jni_mangle;
use jni::objects::{JClass, JObject};
use jni::EnvUnowned;

static CONNECTED: AtomicBool = AtomicBool::new(false);

/// Whether `CasesyncAndroid.init(context)` has connected the verifier in this process.
pub(crate) fn verifier_connected() -> bool {
    CONNECTED.load(Ordering::Acquire)
}

/// `CasesyncAndroid.initPlatformVerifier(context)` (a static native method): hands the
/// application context to rustls-platform-verifier, which keeps a global reference to it
/// and the JVM for the life of the process (a second call changes nothing). A failure,
/// or a panic, is thrown to Kotlin as a `RuntimeException` naming the JNI error.
#[jni_mangle("org.casesync.android.CasesyncAndroid")]
pub fn init_platform_verifier<'caller>(
    mut env: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    context: JObject<'caller>,
) {
    env.with_env(|env| -> Result<(), jni::errors::Error> {
        rustls_platform_verifier::android::init_with_env(env, context)?;
        CONNECTED.store(true, Ordering::Release);
        Ok(())
    })
    .resolve::<ThrowRuntimeExAndDefault>();
}
