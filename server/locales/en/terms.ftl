# Labels of the case's stable values and the timeline's summaries — English.
# One term per value: the dashboard and the app use the same words.

stage-intake = Intake
stage-assessment = Assessment
stage-planning = Planning
stage-implementation = Implementation
stage-monitoring = Monitoring
stage-closed = Closed

sex-female = Female
sex-male = Male
sex-other = Other
sex-unknown = Not known

visit-home = Home visit
visit-phone = Phone call
visit-facility = Facility visit

goal-active = Active
goal-achieved = Achieved
goal-dropped = Dropped

service-health = Health
service-psychosocial = Psychosocial support
service-legal = Legal aid
service-housing = Housing
service-education = Education
service-livelihood = Livelihood
service-other = Other service

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

source-agency_referral = Referred by an agency
source-self = Came by themselves
source-family = Brought by family
source-field_survey = Found in a field survey

risk-low = Low risk
risk-medium = Medium risk
risk-high = High risk

role-chw = Health worker
role-coordinator = Coordinator
role-admin = Administrator

summary-case-created = created the case
summary-case-imported = imported the case
summary-schema-migrated = updated the record format
summary-client-updated = updated the client's details
summary-household-member-added = added a household member
summary-household-member-removed = removed a household member
summary-intake-recorded = recorded the intake
summary-consent-recorded = recorded consent
summary-assessment-updated = updated the assessment
summary-goal-added = added a goal
summary-goal-updated = updated a goal
summary-plan-review-date-set = set the plan's review date
summary-referral-made = made a referral
summary-referral-updated = updated a referral
summary-visit-recorded = recorded a visit
summary-visit-updated = updated a visit
summary-stage = moved the case from { $from } to { $to }
summary-case-reopened = reopened the case
summary-activity-after-closure-reviewed = reviewed activity after closure
summary-case-evaluated = evaluated the case
summary-case-reassigned = reassigned the case
summary-sensitivity-changed = changed the case's sensitivity
summary-district-changed = moved the case to another district
summary-village-changed = changed the village
summary-conflict-resolved = resolved conflicting edits of { $path }
summary-case-closed = closed the case: { $reason }
summary-assessment-extra-set = updated an assessment field
