import type { NotificationEvent, Severity } from './events.js';

/** The body formats a webhook can be sent in. */
export const NOTIFY_FORMATS = ['generic', 'slack', 'teams'] as const;
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];

/** Details shown in chat messages; the generic body carries them all. */
const CHAT_DETAILS = 10;

const EMOJI: Record<Severity, string> = { info: ':white_check_mark:', warning: ':warning:', error: ':x:' };
/** Adaptive Card text colours (`good`, `warning`, `attention` are the card schema's names). */
const CARD_COLOR: Record<Severity, string> = { info: 'good', warning: 'warning', error: 'attention' };

/**
 * The JSON body of one notification in `format`. Pure.
 * - `generic`: the event itself (see NotificationEvent);
 * - `slack`: an incoming-webhook message (`text` as the fallback, plus `blocks` in mrkdwn);
 * - `teams`: a message with one Adaptive Card attachment, what Teams' Workflows ("Post to a channel
 *   when a webhook request is received") and incoming webhooks accept.
 */
export function notificationBody(format: NotifyFormat, event: NotificationEvent): unknown {
  switch (format) {
    case 'generic':
      return event;
    case 'slack':
      return slackMessage(event);
    case 'teams':
      return teamsMessage(event);
  }
}

function title(event: NotificationEvent): string {
  return `xops${event.pool ? ` [${event.pool}]` : ''}: ${event.type}`;
}

function shownDetails(event: NotificationEvent): string[] {
  const shown = event.details.slice(0, CHAT_DETAILS);
  if (event.details.length > CHAT_DETAILS) shown.push(`… and ${event.details.length - CHAT_DETAILS} more`);
  return shown;
}

/** Slack's mrkdwn treats `&`, `<` and `>` as markup: they must be sent as entities. */
function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function slackMessage(event: NotificationEvent): unknown {
  const head = `${EMOJI[event.severity]} *${slackEscape(title(event))}*\n${slackEscape(event.summary)}`;
  const details = shownDetails(event);
  return {
    text: slackEscape(`${title(event)}: ${event.summary}`),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: head } },
      ...(details.length > 0 ? [{ type: 'section', text: { type: 'mrkdwn', text: details.map((d) => `• ${slackEscape(d)}`).join('\n') } }] : []),
      { type: 'context', elements: [{ type: 'mrkdwn', text: slackEscape([event.commit ? `commit ${event.commit}` : '', event.at].filter(Boolean).join(' · ')) }] },
    ],
  };
}

function teamsMessage(event: NotificationEvent): unknown {
  const facts = [
    ...(event.pool ? [{ title: 'Pool', value: event.pool }] : []),
    ...(event.commit ? [{ title: 'Commit', value: event.commit }] : []),
    { title: 'At', value: event.at },
  ];
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            { type: 'TextBlock', text: title(event), weight: 'Bolder', size: 'Medium', color: CARD_COLOR[event.severity], wrap: true },
            { type: 'TextBlock', text: event.summary, wrap: true },
            ...shownDetails(event).map((d) => ({ type: 'TextBlock', text: `- ${d}`, wrap: true, spacing: 'None' })),
            { type: 'FactSet', facts },
          ],
        },
      },
    ],
  };
}
