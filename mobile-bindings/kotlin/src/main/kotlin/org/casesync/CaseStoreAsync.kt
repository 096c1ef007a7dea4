// Handwritten (NOT generated): coroutine wrappers over the blocking calls of the
// generated casesync_ffi.kt. scripts/check-bindings only compares generated files.
package org.casesync

import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/** A [SyncObserver] that ignores progress. */
object NoSyncProgress : SyncObserver {
    override fun onProgress(progress: SyncProgress) {}
}

/**
 * [CaseStore.sync] as a suspend function, run on [Dispatchers.IO].
 *
 * Cancelling the calling coroutine cancels the sync: it stops before its next page
 * (every page already received stays saved) and this throws `CancellationException`.
 * Other failures throw the [CasesyncException] of [CaseStore.sync].
 */
suspend fun CaseStore.syncSuspend(observer: SyncObserver = NoSyncProgress): SyncReport =
    withContext(Dispatchers.IO) {
        val handle = SyncHandle()
        // Turns this coroutine's cancellation into a cancel of the native sync. It is the
        // handle's last user, so it also frees it (the native sync holds its own reference).
        val watcher = launch(start = CoroutineStart.UNDISPATCHED) {
            try {
                awaitCancellation()
            } finally {
                handle.cancel()
                handle.close()
            }
        }
        try {
            sync(handle, observer)
        } catch (e: CasesyncException.Cancelled) {
            ensureActive() // cancelled by the caller: throw CancellationException
            throw e
        } finally {
            watcher.cancel()
        }
    }

/** [CaseStore.sync] as a suspend function, reporting progress to [onProgress]. */
suspend fun CaseStore.syncSuspend(onProgress: (SyncProgress) -> Unit): SyncReport =
    syncSuspend(object : SyncObserver {
        override fun onProgress(progress: SyncProgress) = onProgress(progress)
    })

/** [CaseStore.login] on [Dispatchers.IO]. */
suspend fun CaseStore.loginSuspend(serverUrl: String, username: String, password: String): Session =
    withContext(Dispatchers.IO) { login(serverUrl, username, password) }

/** [CaseStore.refresh] on [Dispatchers.IO]. */
suspend fun CaseStore.refreshSuspend(): Session = withContext(Dispatchers.IO) { refresh() }
