# پیام‌های گوشی casesync — فارسی.
#
# One message per error code (`case.closed` -> `case-closed`), formatted by
# CasesyncMessages.format. Only plain text and { $param } placeables, one line each.
# stage-* and role-* label the `from`, `to` and `role` parameters: the same words as
# server/locales/<lang>/terms.ftl and main.ftl (a test compares them).

case-corrupt = یک پرونده در این گوشی خراب است و خوانده نمی‌شود.
case-over_limit = این پرونده برای باز شدن بیش از حد بزرگ است (حد { $limit }).
case-malformed = یک پرونده در این گوشی ناقص است: { $field } وجود ندارد.
case-unsupported_schema = این پرونده با نسخهٔ جدیدتر برنامه ذخیره شده است. برای باز کردن، برنامه را به‌روز کنید.
case-invalid = { $field }: این مقدار پذیرفته نیست.
case-too_large = { $field } بیش از حد طولانی است یا موارد زیادی دارد (حد { $limit }).
case-not_found = پیدا نشد: { $kind } { $id }.
case-forbidden = نقش شما ({ $role }) اجازهٔ این کار را ندارد.
case-stage_not_allowed = پرونده هنوز نمی‌تواند از { $from } به { $to } برود.
case-closed = این پرونده بسته است. هماهنگ‌کننده می‌تواند آن را دوباره باز کند.
case-referral_needs_consent = ارجاع به یک سازمان ثبت‌شده به رضایت مراجع برای اشتراک اطلاعاتش نیاز دارد. ابتدا رضایت را در پذیرش ثبت کنید.
case-referral_needs_sensitive_consent = این پرونده محرمانه است. از مراجع بپرسید آیا با اشتراک آن با این سازمان موافق است و رضایتش را روی ارجاع ثبت کنید.
case-no_conflict = در { $path } تعارضی با این مقدار برای حل کردن نیست.
case-operation_failed = تغییر ذخیره نشد. دوباره تلاش کنید.

store-wrong_key = داده‌های این گوشی باز نشد: کلید نادرست است.
store-corrupt = نسخهٔ ذخیره‌شدهٔ پرونده { $case_id } خراب است.
store-corrupt_meta = داده‌های گوشی خراب است ({ $record }).
store-case_not_found = پرونده { $case_id } در این گوشی نیست.
store-failure = حافظهٔ گوشی خطا داد. کمی فضا خالی کنید و دوباره تلاش کنید.

sync-bad_response = پاسخ سرور خوانده نشد. بعداً دوباره تلاش کنید.
sync-bad_document = سرور پرونده { $case_id } را به شکلی فرستاد که این برنامه نمی‌تواند به کار ببرد. برنامه را به‌روز کنید.
sync-out_of_order = همگام‌سازی در این گوشی درست انجام نشد. دوباره تلاش کنید.
sync-too_many_round_trips = همگام‌سازی تمام نشد. دوباره تلاش کنید.
sync-already_running = همگام‌سازی در حال انجام است.
sync-cancelled = لغو شد. هر چه تا اینجا رسیده ذخیره شده است.

auth-wrong_password = نام کاربری یا گذرواژه نادرست است.
auth-sign_in_again = لطفاً دوباره با گذرواژه وارد شوید. کار شما در این گوشی ذخیره شده و پس از ورود فرستاده می‌شود.
auth-session_expired = نشست شما به پایان رسیده است. دوباره وارد شوید.
auth-not_logged_in = اول وارد شوید.
auth-rate_limited = تلاش‌ها بیش از حد بود. چند دقیقه صبر کنید و دوباره تلاش کنید.
auth-device_revoked = این گوشی از برنامه حذف شد و داده‌های پرونده‌های آن پاک شد. تغییرات فرستاده‌نشدهٔ ازدست‌رفته: { $unsent_changes } (در { $unsent_cases } پرونده). با هماهنگ‌کنندهٔ خود تماس بگیرید.
auth-password_change_required = گذرواژهٔ شما بازنشانی شد. برای ورود، گذرواژهٔ تازه‌ای انتخاب کنید.
auth-password_rules = گذرواژهٔ تازه‌ای با دست‌کم { $min_chars } نویسه انتخاب کنید که با گذرواژهٔ پیشین فرق داشته باشد.

server-forbidden = شما اجازهٔ این کار را ندارید.
server-not_found = در سرور پیدا نشد.
server-refused = سرور نتوانست درخواست را انجام دهد ({ $status }). بعداً دوباره تلاش کنید.
server-bad_answer = پاسخ سرور برای این برنامه قابل استفاده نیست. برنامه را به‌روز کنید یا بعداً تلاش کنید.

network-unreachable = اتصال به سرور برقرار نیست. کار شما در این گوشی ذخیره شده و در همگام‌سازی بعدی فرستاده می‌شود.
network-insecure_http = نشانی سرور امن نیست (http://)؛ چیزی فرستاده نشد. نشانی https:// را از هماهنگ‌کننده بپرسید.
network-untrusted_certificate = این گوشی به گواهی سرور اعتماد ندارد؛ چیزی فرستاده نشد. با هماهنگ‌کننده تماس بگیرید.
network-tls_setup = تنظیمات اتصال امن برنامه قابل استفاده نیست. با هماهنگ‌کننده تماس بگیرید.

input-bad_key = کلید ذخیره‌سازی باید ۳۲ بایت باشد.
input-empty_device_id = شناسهٔ دستگاه خالی است.
input-not_json = { $field } مقدار درستی نیست.
input-bad_date = { $field }: «{ $value }» تاریخ نیست (به شکل YYYY-MM-DD بنویسید).

stage-intake = پذیرش
stage-assessment = ارزیابی
stage-planning = برنامه‌ریزی
stage-implementation = اجرا
stage-monitoring = پایش
stage-closed = بسته

role-chw = مددکار سلامت
role-coordinator = هماهنگ‌کننده
role-admin = مدیر
role-agency = کارکنان سازمان
