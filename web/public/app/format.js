// Dates, durations and names as NHS.UK content guidance writes them: "24 November 2026 at
// 2:05pm", "2 hours 10 minutes".

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
  'September', 'October', 'November', 'December'];

export function time12(d) {
  let hh = d.getHours();
  const mm = String(d.getMinutes()).padStart(2, '0');
  const ampm = hh >= 12 ? 'pm' : 'am';
  hh = hh % 12 || 12;
  return `${hh}:${mm}${ampm}`;
}

export function dateTime(ms) {
  const d = new Date(ms);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  const y = new Date(now); y.setDate(now.getDate() - 1);
  if (sameDay) return `today at ${time12(d)}`;
  if (d.toDateString() === y.toDateString()) return `yesterday at ${time12(d)}`;
  const year = d.getFullYear() === now.getFullYear() ? '' : ` ${d.getFullYear()}`;
  return `${d.getDate()} ${MONTHS[d.getMonth()]}${year} at ${time12(d)}`;
}

export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400), hrs = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  const part = (n, w) => `${n} ${w}${n === 1 ? '' : 's'}`;
  if (d > 0) return hrs ? `${part(d, 'day')} ${part(hrs, 'hour')}` : part(d, 'day');
  if (hrs > 0) return m ? `${part(hrs, 'hour')} ${part(m, 'minute')}` : part(hrs, 'hour');
  if (m > 0) return part(m, 'minute');
  return 'less than a minute';
}

export function target(minutes) {
  if (!minutes) return 'same working day, by 6:30pm';
  if (minutes % 60 === 0) return `within ${duration(minutes * 60)}`;
  return `within ${duration(minutes * 60)}`;
}

export const STATUS = {
  new: { text: 'New', cls: 'nhsuk-tag--blue' },
  in_progress: { text: 'In progress', cls: 'nhsuk-tag--yellow' },
  awaiting_patient: { text: 'Waiting for patient', cls: 'nhsuk-tag--purple' },
  closed: { text: 'Closed', cls: 'nhsuk-tag--grey' },
};

// Patients see their own words for where a request is.
export const PATIENT_STATUS = {
  new: { text: 'Sent', cls: 'nhsuk-tag--blue' },
  in_progress: { text: 'Being looked at', cls: 'nhsuk-tag--yellow' },
  awaiting_patient: { text: 'Reply needed', cls: 'nhsuk-tag--orange' },
  closed: { text: 'Closed', cls: 'nhsuk-tag--grey' },
};

export const ROLES = {
  receptionist: 'Receptionist', gp: 'GP', nurse: 'Nurse', pharmacist: 'Pharmacist',
  clinician: 'Clinician', specialist: 'Specialist', practice_admin: 'Practice admin',
};

export const KIND = { admin: 'Admin', clinical: 'Clinical', video: 'Video consultation' };

// "Admin request", "Clinical request", "Video consultation" (started by booking one).
export function kindText(kind) {
  return kind === 'video' ? KIND.video : `${KIND[kind] || 'Other'} request`;
}

// Advice requests (PROTOCOL 11.2): their status, urgency and outcome as staff read them.
export const ADVICE_STATUS = {
  new: { text: 'New', cls: 'nhsuk-tag--blue' },
  in_progress: { text: 'In progress', cls: 'nhsuk-tag--yellow' },
  awaiting_gp: { text: 'Awaiting GP', cls: 'nhsuk-tag--purple' },
  closed: { text: 'Closed', cls: 'nhsuk-tag--grey' },
};

export const URGENCY = {
  routine: { text: 'Routine', cls: 'nhsuk-tag--grey' },
  urgent: { text: 'Urgent', cls: 'nhsuk-tag--red' },
};

export const OUTCOME = {
  advice_given: 'Advice given: manage in primary care',
  referral: 'Convert to a referral',
  seen_elsewhere: 'Seen elsewhere',
};
