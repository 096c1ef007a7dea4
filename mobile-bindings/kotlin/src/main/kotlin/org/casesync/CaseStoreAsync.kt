// Handwritten (NOT generated): the coroutine forms that are more than "run the call on
// Dispatchers.IO" (AsyncCaseStore.kt, generated, holds those): a cancellable sync, sync
// progress and case changes as Flows, log routing. scripts/check-bindings compares only
// the generated files.
package org.casesync

import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.channelFlow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/** A [SyncObserver] that ignores progress. */
object NoSyncProgress : SyncObserver {
    override fun onProgress(progress: SyncProgress) {}
}

/**
 * Syncs (see [CaseStore.sync]) on [AsyncCaseStore.io], reporting each saved page to
 * [onProgress] (on the syncing thread: keep it short).
 *
 * Cancelling the calling coroutine cancels the sync: it stops before its next page,
 * during a retry's wait, or inside a page still arriving (between two reads; every page
 * already saved stays) and this throws
 * `CancellationException`. Other failures throw the [CasesyncException] of
 * [CaseStore.sync] (`Busy` when another sync runs).
 */
suspend fun AsyncCaseStore.sync(onProgress: (SyncProgress) -> Unit = {}): SyncReport =
    withContext(io) {
        val handle = SyncHandle()
        // Turns this coroutine's cancellation into a cancel of the native sync. Unconfined:
        // it runs in the thread that cancels, before cancel() returns, so a sync cancelled
        // from its own progress report stops before the next page. It is the handle's last
        // user, so it also frees it (the native sync holds its own reference).
        val watcher = launch(Dispatchers.Unconfined, start = CoroutineStart.UNDISPATCHED) {
            try {
                awaitCancellation()
            } finally {
                handle.cancel()
                handle.close()
            }
        }
        try {
            store.sync(handle, object : SyncObserver {
                override fun onProgress(progress: SyncProgress) = onProgress(progress)
            })
        } catch (e: CasesyncException.Cancelled) {
            ensureActive() // cancelled by the caller: throw CancellationException
            throw e
        } finally {
            watcher.cancel()
        }
    }

/** What [AsyncCaseStore.syncFlow] emits. */
sealed interface SyncEvent {
    /** A page was saved. */
    data class Progress(val progress: SyncProgress) : SyncEvent

    /** The sync finished (the last event). */
    data class Finished(val report: SyncReport) : SyncEvent
}

/**
 * A sync as a cold [Flow]: collecting it runs one sync, emitting [SyncEvent.Progress]
 * after each saved page and [SyncEvent.Finished] last; a failure is thrown to the
 * collector. Cancelling the collector cancels the sync (pages saved so far stay).
 */
fun AsyncCaseStore.syncFlow(): Flow<SyncEvent> = channelFlow {
    val report = sync { p -> trySend(SyncEvent.Progress(p)) }
    send(SyncEvent.Finished(report))
}.buffer(Channel.UNLIMITED)

/**
 * Every change to this device's cases as a [Flow] of [CaseChanges] (origin, ids changed,
 * ids removed): local edits, each page a sync saves, removals, wipes, in the order they
 * were saved. The native subscription is made when collection starts, before the first
 * suspension (collect with `launch(start = CoroutineStart.UNDISPATCHED)` to be sure to
 * see the next edit), and closed when the collector stops. Nothing is dropped: changes
 * wait in an unbounded buffer for a slow collector.
 */
fun AsyncCaseStore.changes(): Flow<CaseChanges> = flow {
    val queue = Channel<CaseChanges>(Channel.UNLIMITED)
    val subscription = store.observe(object : ChangeListener {
        override fun onChanges(changes: CaseChanges) {
            queue.trySend(changes)
        }
    })
    try {
        for (c in queue) emit(c)
    } finally {
        subscription.close()
    }
}

/**
 * Routes casesync's log events at [maxLevel] and above to [log] (level, target, message:
 * counts and codes, never personal data). On Android: `Log.println(priority, target, message)`.
 * Replaces any routing set before; [stopCasesyncLogs] ends it.
 */
fun routeCasesyncLogs(maxLevel: LogLevel = LogLevel.INFO, log: (LogLevel, String, String) -> Unit) =
    setLogSink(object : LogSink {
        override fun log(level: LogLevel, target: String, message: String) = log(level, target, message)
    }, maxLevel)

/** Stops routing casesync's log events. */
fun stopCasesyncLogs() = setLogSink(null, LogLevel.ERROR)
