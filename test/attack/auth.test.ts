// Attacks of issue 13, group "auth": storms of hellos, upgrades and calls with a wrong token.
import { attackTests } from './run-group.ts'

attackTests('auth')
