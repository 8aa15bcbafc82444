import { Param, PipeTransform } from '@nestjs/common';
import { ValidationProblem } from './problem.exception';
import { UUID } from './validation-patterns';

class UuidPipe implements PipeTransform<string, string> {
  constructor(private readonly name: string) {}

  transform(value: string): string {
    if (!UUID.test(value)) {
      throw new ValidationProblem([{ field: this.name, message: `${this.name} must be a UUID` }]);
    }
    return value.toLowerCase();
  }
}

/** A route parameter that must be a UUID (400 problem+json otherwise). */
export const UuidParam = (name = 'id'): ParameterDecorator => Param(name, new UuidPipe(name));
