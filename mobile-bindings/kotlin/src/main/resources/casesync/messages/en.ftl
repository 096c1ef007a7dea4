# casesync phone messages — English (the reference catalogue).
#
# One message per error code (`case.closed` -> `case-closed`), formatted by
# CasesyncMessages.format. Only plain text and { $param } placeables, one line each.
# stage-* and role-* label the `from`, `to` and `role` parameters: the same words as
# server/locales/<lang>/terms.ftl and main.ftl (a test compares them).

case-corrupt = A case on this phone is damaged and cannot be read.
case-over_limit = This case is too large to open (limit { $limit }).
case-malformed = A case on this phone is incomplete: { $field } is missing.
case-unsupported_schema = This case was saved by a newer app. Update the app to open it.
case-invalid = { $field }: this value is not accepted ({ $reason }).
case-too_large = { $field } is too long or has too many entries (limit { $limit }).
case-not_found = Not found: { $kind } { $id }.
case-forbidden = Your role ({ $role }) may not { $action }.
case-stage_not_allowed = The case cannot move from { $from } to { $to }: { $reason }.
case-closed = This case is closed. A coordinator can reopen it.
case-referral_needs_consent = Referring to a registered agency needs the client's consent to share their information. Record the consent at intake first.
case-referral_needs_sensitive_consent = This case is confidential. Ask the client whether they agree to share it with this agency, and record their consent on the referral.
case-no_conflict = There is no conflict to resolve at { $path } with that value.
case-operation_failed = The change could not be saved. Try again.

store-wrong_key = This phone's data could not be opened: the key is wrong.
store-corrupt = The saved copy of case { $case_id } is damaged.
store-corrupt_meta = The phone's data is damaged ({ $record }).
store-case_not_found = Case { $case_id } is not on this phone.
store-failure = The phone's storage failed. Free some space and try again.

sync-bad_response = The server's answer could not be read. Try again later.
sync-bad_document = The server sent case { $case_id } in a form this app cannot use. Update the app.
sync-out_of_order = Sync went wrong on this phone. Try again.
sync-too_many_round_trips = Sync did not finish. Try again.
sync-already_running = A sync is already running.
sync-cancelled = Cancelled. Everything received so far is saved.

auth-wrong_password = Wrong username or password.
auth-sign_in_again = Please sign in again with your password. Your work is saved on this phone and will be sent after you sign in.
auth-session_expired = Your session has expired. Please log in again.
auth-not_logged_in = Please log in first.
auth-rate_limited = Too many attempts. Wait a few minutes and try again.
auth-device_revoked = This phone was removed from the programme and its case data was erased. Unsent changes lost: { $unsent_changes } (in { $unsent_cases } cases). Contact your coordinator.
auth-password_change_required = Your password was reset. Choose a new password to sign in.
auth-password_rules = Choose a new password of at least { $min_chars } characters, different from the old one.

server-forbidden = Not allowed: { $detail }
server-not_found = Not found: { $detail }
server-refused = The server could not complete the request ({ $status } { $code }). Try again later.
server-bad_answer = The server answered something this app cannot use. Update the app or try later.

network-unreachable = No connection to the server. Your work is saved on this phone and will be sent at the next sync.
network-insecure_http = The server address is not secure (http://); nothing was sent. Ask your coordinator for the https:// address.
network-untrusted_certificate = This phone does not trust the server's certificate; nothing was sent. Contact your coordinator.
network-tls_setup = The app's secure connection settings are not usable. Contact your coordinator.

input-bad_key = The store key must be 32 bytes.
input-empty_device_id = The device id is empty.
input-not_json = { $field } is not a valid value.
input-bad_date = { $field }: “{ $value }” is not a date (use YYYY-MM-DD).

stage-intake = Intake
stage-assessment = Assessment
stage-planning = Planning
stage-implementation = Implementation
stage-monitoring = Monitoring
stage-closed = Closed

role-chw = Health worker
role-coordinator = Coordinator
role-admin = Administrator
role-agency = Agency staff
