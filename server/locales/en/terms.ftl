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

# Fields of a case, as the timeline names what a change touched.
field-client = Client
field-intake = Intake
field-assessment = Assessment
field-plan = Plan
field-referrals = Referrals
field-visits = Visits
field-closure = Closure
field-evaluation = Evaluation
field-schema = Schema
field-id = Id
field-created_at = Created
field-created_by = Created by
field-district = District
field-village = Village
field-assigned_to = Assigned to
field-sensitive = Sensitive
field-stage = Stage
field-activity_after_closure = Activity after closure
field-updated_at = Updated
field-name = Name
field-relation = Relation
field-sex = Sex
field-birth_date = Birth date
field-age_estimate = Age (estimate)
field-phone = Phone
field-language = Language
field-household = Household
field-consent = Consent
field-given = Given
field-date = Date
field-scope = Scope
field-recorded_by = Recorded by
field-source = Source
field-referred_by = Referred by
field-presenting_problem = Presenting problem
field-physical_health = Physical health
field-mental_health = Mental health
field-social = Social
field-behavioural = Behaviour
field-family = Family
field-housing = Housing
field-income = Income
field-education = Education
field-safety_risk = Safety risk
field-strengths = Strengths
field-problem_origin = Origin of the problem
field-causes = Causes
field-extra = Other findings
field-goals = Goals
field-text = Text
field-priority = Priority
field-method = Method
field-target_date = Target date
field-evaluate_by = Evaluate by
field-status = Status
field-review_date = Review date
field-service = Service
field-agency = Agency
field-outcome = Outcome
field-follow_up_date = Follow-up date
field-by = By
field-kind = Kind
field-notes = Notes
field-progress = Progress
field-obstacles = Obstacles
field-actions = Actions
field-next_visit_date = Next visit
field-reason = Reason
field-client_agreed = Client agreed
field-summary = Summary
field-known = Entries seen
field-goals_achieved = Goals achieved
field-satisfaction = Satisfaction
