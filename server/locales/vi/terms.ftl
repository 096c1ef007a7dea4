# Tên các giá trị cố định của hồ sơ và tóm tắt trong dòng thời gian — Tiếng Việt

stage-intake = Tiếp nhận
stage-assessment = Đánh giá
stage-planning = Lập kế hoạch
stage-implementation = Thực hiện
stage-monitoring = Theo dõi
stage-closed = Đã đóng

sex-female = Nữ
sex-male = Nam
sex-other = Khác
sex-unknown = Không rõ

visit-home = Thăm nhà
visit-phone = Gọi điện
visit-facility = Gặp tại cơ sở

goal-active = Đang thực hiện
goal-achieved = Đã đạt
goal-dropped = Đã bỏ

service-health = Y tế
service-psychosocial = Hỗ trợ tâm lý xã hội
service-legal = Trợ giúp pháp lý
service-housing = Nhà ở
service-education = Giáo dục
service-livelihood = Sinh kế
service-other = Dịch vụ khác

referral-made = Đã chuyển
referral-accepted = Đã nhận
referral-completed = Hoàn thành
referral-declined = Bị từ chối

reason-goals_achieved = Đạt mục tiêu
reason-transferred = Chuyển nơi khác
reason-moved = Chuyển đi
reason-deceased = Qua đời
reason-withdrew = Tự rút lui
reason-lost_to_follow_up = Mất liên lạc

source-agency_referral = Cơ quan chuyển đến
source-self = Tự đến
source-family = Gia đình đưa đến
source-field_survey = Phát hiện khi khảo sát

risk-low = Nguy cơ thấp
risk-medium = Nguy cơ trung bình
risk-high = Nguy cơ cao

role-chw = Nhân viên y tế
role-coordinator = Điều phối viên
role-admin = Quản trị viên

summary-case-created = đã tạo hồ sơ
summary-case-imported = đã nhập hồ sơ
summary-schema-migrated = đã cập nhật định dạng hồ sơ
summary-client-updated = đã sửa thông tin thân chủ
summary-household-member-added = đã thêm thành viên hộ
summary-household-member-removed = đã xóa thành viên hộ
summary-intake-recorded = đã ghi tiếp nhận
summary-consent-recorded = đã ghi sự đồng ý
summary-assessment-updated = đã sửa đánh giá
summary-goal-added = đã thêm mục tiêu
summary-goal-updated = đã sửa mục tiêu
summary-plan-review-date-set = đã đặt ngày xem lại kế hoạch
summary-referral-made = đã chuyển tuyến
summary-referral-updated = đã sửa chuyển tuyến
summary-visit-recorded = đã ghi lần thăm
summary-visit-updated = đã sửa lần thăm
summary-stage = đã chuyển hồ sơ từ { $from } sang { $to }
summary-case-reopened = đã mở lại hồ sơ
summary-activity-after-closure-reviewed = đã xem hoạt động sau khi đóng
summary-case-evaluated = đã đánh giá kết quả hồ sơ
summary-case-reassigned = đã giao lại hồ sơ
summary-sensitivity-changed = đã đổi mức nhạy cảm của hồ sơ
summary-district-changed = đã chuyển hồ sơ sang huyện khác
summary-village-changed = đã đổi thôn
summary-conflict-resolved = đã giải quyết chỉnh sửa xung đột ở { $path }
summary-case-closed = đã đóng hồ sơ: { $reason }
summary-assessment-extra-set = đã sửa một ô đánh giá
