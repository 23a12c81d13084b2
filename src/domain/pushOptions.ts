import { z } from 'zod';

/** Serialized size limit of a job's `data`. */
export const MAX_DATA_BYTES = 10 * 1024 * 1024;

const number = (error: string) => z.number({ error });
const boolean = (field: string) => z.boolean({ error: `${field} must be a boolean` }).optional();
const boundedString = (field: string, max: number) => {
  const error = `${field} must be a string of 1-${max} characters`;
  return z.string({ error }).min(1, { error }).max(max, { error });
};

const backoffSchema = z.union(
  [
    number('backoff must be a number >= 0').min(0),
    z.object({
      type: z.enum(['fixed', 'exponential']),
      delay: z.number().min(0),
      jitter: z.number().min(0).max(1).optional(),
    }),
  ],
  { error: 'backoff must be a number >= 0 or {"type":"fixed"|"exponential","delay":ms>=0,"jitter"?:0..1}' },
);

const repeatSchema = z.object(
  {
    every: number('repeat.every must be a number > 0').positive({ error: 'repeat.every must be a number > 0' }),
    limit: number('repeat.limit must be an integer >= 1')
      .int({ error: 'repeat.limit must be an integer >= 1' })
      .min(1, { error: 'repeat.limit must be an integer >= 1' })
      .nullish(),
  },
  { error: 'repeat must be an object {"every": ms, "limit"?: n}' },
);

/** The push body: every option of the contract. Unknown fields are dropped. */
export const pushOptionsSchema = z.object({
  data: z.unknown(),
  priority: number('priority must be a finite number').optional(),
  delay: number('delay must be a number >= 0').min(0, { error: 'delay must be a number >= 0' }).optional(),
  maxAttempts: number('maxAttempts must be an integer >= 1')
    .int({ error: 'maxAttempts must be an integer >= 1' })
    .min(1, { error: 'maxAttempts must be an integer >= 1' })
    .optional(),
  backoff: backoffSchema.optional(),
  ttl: number('ttl must be a number >= 0').min(0, { error: 'ttl must be a number >= 0' }).nullish(),
  timeout: number('timeout must be a number > 0').positive({ error: 'timeout must be a number > 0' }).nullish(),
  uniqueKey: boundedString('uniqueKey', 1024).nullish(),
  jobId: boundedString('jobId', 256).nullish(),
  tags: z.array(z.string({ error: 'tags must be an array of strings' }), { error: 'tags must be an array of strings' }).optional(),
  groupId: boundedString('groupId', 256).nullish(),
  lifo: boolean('lifo'),
  removeOnComplete: boolean('removeOnComplete'),
  removeOnFail: boolean('removeOnFail'),
  durable: boolean('durable'),
  dependsOn: z.array(z.string({ error: 'dependsOn must be an array of job ids' }), {
    error: 'dependsOn must be an array of job ids',
  }).optional(),
  repeat: repeatSchema.nullish(),
});

export type PushOptions = z.infer<typeof pushOptionsSchema>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Validates a parsed JSON push body, with the 400 messages of the semantics page. */
export function parsePushOptions(body: unknown): ParseResult<PushOptions> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, error: 'Invalid JSON body' };
  if (!('data' in body) || body.data === undefined) return { ok: false, error: 'data is required' };
  const parsed = pushOptionsSchema.safeParse(body);
  if (!parsed.success) return { ok: false, error: firstMessage(parsed.error) };
  if (Buffer.byteLength(JSON.stringify(parsed.data.data)) > MAX_DATA_BYTES) return { ok: false, error: 'data too large' };
  return { ok: true, value: parsed.data };
}

export function firstMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'Invalid request';
  const field = issue.path.join('.');
  // Messages written for a field already name it; zod's generic ones do not.
  return field && !issue.message.includes(field.split('.')[0]) ? `${field}: ${issue.message}` : issue.message;
}

const QUEUE_NAME = /^[A-Za-z0-9_.:-]{1,256}$/;

export function parseQueueName(name: string): ParseResult<string> {
  return QUEUE_NAME.test(name)
    ? { ok: true, value: name }
    : { ok: false, error: 'queue name must be 1-256 characters of A-Z a-z 0-9 _ . : -' };
}
