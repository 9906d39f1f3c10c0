// Attacks of issue 13, group "size": a body and a message far over any legal size, memory asserted flat.
import { attackTests } from './run-group.ts'

attackTests('size')
