import { Job, UnrecoverableError } from 'bullmq';
import { AudioArchiveProcessor } from '../../audio-files/audio-archive.processor';
import { AudioArchiveService } from '../../audio-files/audio-archive.service';
import { RetentionProcessor } from '../../audio-files/retention.processor';
import { UsageService } from '../../audit/usage.service';
import { ConversationsService } from '../../conversations/conversations.service';
import { FlushScheduler } from '../../conversations/turns/flush-scheduler';
import { TurnPersistenceProcessor } from '../../conversations/turns/turn-persistence.processor';
import { TurnPersistenceService } from '../../conversations/turns/turn-persistence.service';
import { AppConfig } from '../config/app-config';
import { RequestContext } from '../http/request-context';
import { JobHandlers, JobProcessor, missingHandlers } from './job-processor';

enum TestJob {
  Alpha = 'alpha',
  Beta = 'beta',
}

class TestProcessor extends JobProcessor<TestJob, { requestId?: string }> {
  protected readonly queueName = 'test-queue';
  protected readonly jobNames = Object.values(TestJob);
  constructor(protected readonly handlers: JobHandlers<TestJob, { requestId?: string }>) {
    super();
  }
}

const job = (name: string, data: { requestId?: string }, id = '42') =>
  ({ id, name, data }) as Job<{ requestId?: string }>;

const seenRequestId = () => Promise.resolve(RequestContext.current()?.requestId);

describe('JobProcessor', () => {
  it('names the job names without a handler', () => {
    expect(missingHandlers(['a', 'b', 'c'], { a: () => 1, c: 'not a function' })).toEqual([
      'b',
      'c',
    ]);
    expect(missingHandlers(['a'], { a: () => 1 })).toEqual([]);
  });

  it('fails start-up when a job name of the queue has no handler', () => {
    const incomplete = new TestProcessor({ alpha: seenRequestId } as unknown as JobHandlers<
      TestJob,
      { requestId?: string }
    >);
    expect(() => incomplete.onModuleInit()).toThrow('No handler for test-queue jobs: beta');
    const complete = new TestProcessor({ alpha: seenRequestId, beta: seenRequestId });
    expect(() => complete.onModuleInit()).not.toThrow();
  });

  it('dispatches by name and runs the handler under the request id of the job', async () => {
    const processor = new TestProcessor({
      alpha: seenRequestId,
      beta: () => Promise.resolve('beta ran'),
    });
    await expect(processor.process(job('alpha', { requestId: 'req-from-http' }))).resolves.toBe(
      'req-from-http',
    );
    await expect(processor.process(job('alpha', {}, '7'))).resolves.toBe('job-7');
    await expect(processor.process(job('beta', {}))).resolves.toBe('beta ran');
  });

  it('refuses a job name it has no handler for, without retrying', () => {
    const processor = new TestProcessor({ alpha: seenRequestId, beta: seenRequestId });
    expect(() => processor.process(job('gamma', {}))).toThrow(UnrecoverableError);
  });

  it('every processor of the service has a handler for every job name of its queue', async () => {
    // Dependencies are never called: only the handler maps are checked.
    const stub = <T>() => ({}) as T;
    const processors = [
      new AudioArchiveProcessor(stub<AudioArchiveService>(), stub<UsageService>()),
      new TurnPersistenceProcessor(
        stub<TurnPersistenceService>(),
        stub<ConversationsService>(),
        stub<FlushScheduler>(),
      ),
    ];
    for (const processor of processors) expect(() => processor.onModuleInit()).not.toThrow();
    const retention = new RetentionProcessor(
      stub<AudioArchiveService>(),
      { get: () => '0 3 * * *' } as unknown as AppConfig,
      { upsertJobScheduler: () => Promise.resolve() } as never,
    );
    await expect(retention.onModuleInit()).resolves.toBeUndefined();
  });
});
