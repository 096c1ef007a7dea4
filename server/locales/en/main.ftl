# casesync dashboard — English (the reference locale: every key is here).

app-name = casesync
lang-name = English
skip-to-content = Skip to content

nav-overview = Overview
nav-chws = Health workers
nav-review = Review
nav-cases = Cases
nav-admin = Users and devices
nav-logout = Sign out
nav-language = Language
signed-in-as = Signed in as { $user }

login-title = Sign in
login-intro = Coordinators sign in with the same account as in the app.
login-username = Username
login-password = Password
login-submit = Sign in
login-failed = Wrong username or password.
login-limited = Too many failed attempts. Try again later.
login-disabled = This account is disabled.
login-expired = The sign-in form expired. Please try again.

overview-title = District overview
overview-scope = { $count } cases in { $districts }
overview-today = Figures for { $date } (UTC)
kpi-total = Cases
kpi-active = Open cases
kpi-overdue = Overdue follow-ups
kpi-new-month = New this month
kpi-closed-goals = Closed, goals achieved
kpi-median-days = Median days intake → assessment
kpi-after-closure = Activity after closure
kpi-conflicts = Cases with conflicting edits
chart-stage = Cases by stage
chart-months = New and closed cases per month
chart-overdue = Overdue follow-ups per health worker
chart-referrals = Referrals by status
chart-empty = No data yet.
series-new = New
series-closed = Closed
export-cases = Download cases (CSV)
export-indicators = Download indicators (CSV)
none = —

stage-intake = Intake
stage-assessment = Assessment
stage-planning = Planning
stage-implementation = Implementation
stage-monitoring = Monitoring
stage-closed = Closed

referral-made = Made
referral-accepted = Accepted
referral-completed = Completed
referral-declined = Declined

reason-goals_achieved = Goals achieved
reason-transferred = Transferred
reason-moved = Moved away
reason-deceased = Deceased
reason-withdrew = Withdrew
reason-lost_to_follow_up = Lost to follow-up

chws-title = Health workers
chws-name = Health worker
chws-last-sync = Last sync
chws-never = never
chws-devices = Devices
chws-cases = Open cases
chws-due = Due in 7 days
chws-overdue = Overdue

review-title = Review queue
review-conflicts = Conflicting edits
review-conflicts-help = Two people changed the same field on different devices. Everyone currently sees the first value; choose the right one.
review-none-conflicts = No conflicting edits.
review-after-closure = Activity after closure
review-after-closure-help = A visit, goal or referral was recorded on a closed case. Check it, then mark it reviewed.
review-none-after-closure = Nothing recorded after closure.
review-field = Field
review-value = Value
review-by = By
review-when = When
review-current = shown now
review-keep = Keep this value
review-acknowledge = Mark reviewed
review-not-choosable = (a whole section: edit it in the app)

cases-title = Cases
cases-search = Name
cases-stage = Stage
cases-chw = Health worker
cases-village = Village
cases-overdue = Overdue only
cases-any = Any
cases-filter = Filter
cases-clear = Clear
cases-found = { $count ->
    [one] One case
   *[other] { $count } cases
}
cases-none = No case matches.
cases-page = Page { $page } of { $pages }
cases-prev = Previous
cases-next = Next
col-id = Case
col-name = Name
col-stage = Stage
col-chw = Health worker
col-village = Village
col-next-due = Next follow-up
col-updated = Updated
badge-overdue = overdue
badge-sensitive = sensitive
badge-conflict = conflict
badge-after-closure = after closure

case-title = Case { $id }
case-client = Client
case-sex = Sex
case-age = Age
case-language = Language
case-problem = Presenting problem
case-intake-date = Intake
case-visits = Visits
case-visit-next = next visit { $date }
case-goals = Goals
case-referrals = Referrals
case-closure = Closure
case-household = Household
case-timeline = Timeline
case-timeline-help = Every change, newest first: who pushed it and when the server received it, what; the device's own claim beside.
case-history-csv = Timeline as CSV
case-changed = changed
case-audit-device = device
case-audit-claimed = the device says
case-audit-not-recorded = not recorded by the server: user and time as the device wrote them
case-reassign = Reassign
case-reassign-to = New health worker
case-reassign-submit = Reassign
case-close = Close the case
case-close-reason = Reason
case-close-date = Date
case-close-agreed = The client agreed
case-close-summary = Summary
case-close-submit = Close the case
case-closed-on = Closed on { $date }: { $reason }
case-conflicts = Conflicting edits
case-readonly = Only a coordinator changes a case here.
case-back = Back to cases

admin-title = Users and devices
admin-note = Administrators manage accounts and devices; case content is not shown.
admin-users = Users
admin-devices = Devices
admin-role = Role
admin-districts = Districts
admin-sensitive = Sensitive access
admin-disabled = Disabled
admin-device = Device
admin-user = User
admin-revoked = Revoked
admin-created = First login
admin-yes = yes
admin-no = no

error-title = Something went wrong
error-forbidden = You do not have access to this page.
error-not-found = Not found.
error-csrf = This form expired or did not come from this site. Go back, reload the page and try again.
error-bad-request = The request was not valid.
error-refused = The change was refused.
error-internal = The server failed. Try again later.
error-back = Back
