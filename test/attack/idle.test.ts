// Attacks of issue 13, group "idle": connections that open and say nothing, on every server kind.
import { attackTests } from './run-group.ts'

attackTests('idle')
