import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import { Public } from '../core/security/access.decorators';
import { MetricsService } from './metrics.service';

/** Prometheus scrape endpoint at the root. Expose it only on the private network. */
// Scrapes are not rate-limited (a missed scrape is a gap in every graph); the route is
// meant for the private network only.
@ApiExcludeController()
@Controller('metrics')
@Public()
@SkipThrottle()
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
