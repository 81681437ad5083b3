import GRDB
import StagelinkEngine
