# Thông báo trên điện thoại của casesync — Tiếng Việt
#
# One message per error code (`case.closed` -> `case-closed`), formatted by
# CasesyncMessages.format. Only plain text and { $param } placeables, one line each.
# stage-* and role-* label the `from`, `to` and `role` parameters: the same words as
# server/locales/<lang>/terms.ftl and main.ftl (a test compares them).

case-corrupt = Một hồ sơ trên điện thoại bị hỏng, không đọc được.
case-over_limit = Hồ sơ quá lớn, không mở được (giới hạn { $limit }).
case-malformed = Một hồ sơ trên điện thoại bị thiếu { $field }.
case-unsupported_schema = Hồ sơ được lưu bằng phiên bản ứng dụng mới hơn. Hãy cập nhật ứng dụng để mở.
case-invalid = { $field }: giá trị này không hợp lệ.
case-too_large = { $field } quá dài hoặc có quá nhiều mục (giới hạn { $limit }).
case-not_found = Không tìm thấy: { $kind } { $id }.
case-forbidden = Vai trò của bạn ({ $role }) không được làm việc này.
case-stage_not_allowed = Chưa thể chuyển hồ sơ từ { $from } sang { $to }.
case-closed = Hồ sơ này đã đóng. Điều phối viên có thể mở lại.
case-referral_needs_consent = Chuyển gửi đến một cơ quan đã đăng ký cần sự đồng ý chia sẻ thông tin của thân chủ. Hãy ghi nhận sự đồng ý ở bước tiếp nhận trước.
case-referral_needs_sensitive_consent = Hồ sơ này được bảo mật. Hãy hỏi thân chủ có đồng ý chia sẻ với cơ quan này không và ghi nhận sự đồng ý trên phiếu chuyển gửi.
case-no_conflict = Không có xung đột nào tại { $path } để giải quyết với giá trị đó.
case-operation_failed = Không lưu được thay đổi. Hãy thử lại.

store-wrong_key = Không mở được dữ liệu trên điện thoại: khóa không đúng.
store-corrupt = Bản lưu của hồ sơ { $case_id } bị hỏng.
store-corrupt_meta = Dữ liệu trên điện thoại bị hỏng ({ $record }).
store-case_not_found = Hồ sơ { $case_id } không có trên điện thoại này.
store-failure = Bộ nhớ điện thoại bị lỗi. Hãy giải phóng dung lượng và thử lại.

sync-bad_response = Không đọc được phản hồi của máy chủ. Hãy thử lại sau.
sync-bad_document = Máy chủ gửi hồ sơ { $case_id } ở dạng ứng dụng này không dùng được. Hãy cập nhật ứng dụng.
sync-out_of_order = Đồng bộ trên điện thoại bị lỗi. Hãy thử lại.
sync-too_many_round_trips = Đồng bộ chưa xong. Hãy thử lại.
sync-already_running = Đang đồng bộ rồi.
sync-cancelled = Đã hủy. Mọi thứ đã nhận được đều được lưu.

auth-wrong_password = Sai tên đăng nhập hoặc mật khẩu.
auth-sign_in_again = Hãy đăng nhập lại bằng mật khẩu. Công việc của bạn đã lưu trên điện thoại và sẽ được gửi sau khi đăng nhập.
auth-session_expired = Phiên đăng nhập đã hết hạn. Hãy đăng nhập lại.
auth-not_logged_in = Hãy đăng nhập trước.
auth-rate_limited = Thử quá nhiều lần. Hãy đợi vài phút rồi thử lại.
auth-device_revoked = Điện thoại này đã bị gỡ khỏi chương trình và dữ liệu hồ sơ đã bị xóa. Thay đổi chưa gửi bị mất: { $unsent_changes } (trong { $unsent_cases } hồ sơ). Hãy liên hệ điều phối viên.
auth-password_change_required = Mật khẩu của bạn đã được đặt lại. Hãy chọn mật khẩu mới để đăng nhập.
auth-password_rules = Hãy chọn mật khẩu mới có ít nhất { $min_chars } ký tự, khác với mật khẩu cũ.

server-forbidden = Bạn không có quyền làm việc này.
server-not_found = Không tìm thấy trên máy chủ.
server-refused = Máy chủ không hoàn tất được yêu cầu ({ $status }). Hãy thử lại sau.
server-bad_answer = Ứng dụng không dùng được phản hồi của máy chủ. Hãy cập nhật ứng dụng hoặc thử lại sau.

network-unreachable = Không kết nối được máy chủ. Công việc đã lưu trên điện thoại và sẽ được gửi ở lần đồng bộ sau.
network-insecure_http = Địa chỉ máy chủ không an toàn (http://); chưa gửi gì. Hãy hỏi điều phối viên địa chỉ https://.
network-untrusted_certificate = Điện thoại này không tin cậy chứng chỉ của máy chủ; chưa gửi gì. Hãy liên hệ điều phối viên.
network-tls_setup = Cài đặt kết nối an toàn của ứng dụng không dùng được. Hãy liên hệ điều phối viên.

input-bad_key = Khóa lưu trữ phải dài 32 byte.
input-empty_device_id = Mã thiết bị đang trống.
input-not_json = { $field } không phải giá trị hợp lệ.
input-bad_date = { $field }: “{ $value }” không phải ngày (dùng YYYY-MM-DD).

stage-intake = Tiếp nhận
stage-assessment = Đánh giá
stage-planning = Lập kế hoạch
stage-implementation = Thực hiện
stage-monitoring = Theo dõi
stage-closed = Đã đóng

role-chw = Nhân viên y tế
role-coordinator = Điều phối viên
role-admin = Quản trị viên
role-agency = Nhân viên cơ quan
