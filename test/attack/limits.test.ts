// Attacks of issue 13, group "limits": floods of flows, tunnels, calls and HTTP requests past the global limits.
import { attackTests } from './run-group.ts'

attackTests('limits')
